//! Source selection: drop the unusable, find the majority with the intersection algorithm,
//! pick the best survivor and the ones to combine with it.

/// What selection made of a source, as chronyc's `sources` state column shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mark {
    /// `*`: the source the clock follows.
    Selected,
    /// `+`: combined with the selected one.
    Combined,
    /// `-`: acceptable but not combined.
    NotCombined,
    /// `?`: unreachable, not yet measured, too far, or `noselect`.
    Unusable,
    /// `x`: outside the majority's interval: its time may be wrong.
    Falseticker,
    /// `~`: its samples vary too much.
    TooVariable,
}

impl Mark {
    pub fn symbol(self) -> char {
        match self {
            Mark::Selected => '*',
            Mark::Combined => '+',
            Mark::NotCombined => '-',
            Mark::Unusable => '?',
            Mark::Falseticker => 'x',
            Mark::TooVariable => '~',
        }
    }
}

/// One source as selection sees it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Candidate {
    /// Source time minus local time now, in seconds.
    pub correction: f64,
    /// Root distance: the most the correction can be wrong by, in seconds.
    pub distance: f64,
    pub jitter: f64,
    pub stratum: u8,
    pub usable: bool,
    pub prefer: bool,
    /// The source's reference ID (from its address) and ours on the way to it, which decide
    /// between orphans.
    pub reference_id: u32,
    pub local_reference_id: Option<u32>,
}

/// Limits chrony.conf sets on selection.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SelectionRules {
    /// `minsources`: survivors needed before the clock is updated.
    pub min_sources: usize,
    /// `maxdistance`: sources farther than this are not used (chrony's default 3 s).
    pub max_distance: f64,
    /// `maxjitter`: sources jittering more are too variable (chrony's default 1 s).
    pub max_jitter: f64,
    /// `combinelimit`: survivors whose distance is within this factor of the selected one's
    /// are combined with it (chrony's default 3).
    pub combine_limit: f64,
    /// `local stratum N orphan`: sources at stratum N or above serve unsynchronised local
    /// time (or follow a server that does), so they are not selected as real sources.
    pub orphan_stratum: Option<u8>,
}

impl Default for SelectionRules {
    fn default() -> Self {
        SelectionRules {
            min_sources: 1,
            max_distance: 3.0,
            max_jitter: 1.0,
            combine_limit: 3.0,
            orphan_stratum: None,
        }
    }
}

/// Why no source was selected, in the words chronyd logs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NoSelection {
    NoSelectableSources,
    NoMajority,
    NotEnoughSources,
}

impl NoSelection {
    pub fn message(self) -> &'static str {
        match self {
            NoSelection::NoSelectableSources => "Can't synchronise: no selectable sources",
            NoSelection::NoMajority => "Can't synchronise: no majority",
            NoSelection::NotEnoughSources => "Can't synchronise: not enough selectable sources",
        }
    }
}

/// The outcome: a mark per candidate (same order) and the selected index, or why none.
#[derive(Clone, Debug, PartialEq)]
pub struct Selection {
    pub marks: Vec<Mark>,
    pub selected: Result<usize, NoSelection>,
}

impl Selection {
    /// The sources inside the majority's interval, which vote on leap seconds as in chronyd.
    pub fn voters(&self) -> impl Iterator<Item = usize> + '_ {
        let selected = self.selected.is_ok();
        self.marks.iter().enumerate().filter_map(move |(i, mark)| {
            let survivor = matches!(mark, Mark::Selected | Mark::Combined | Mark::NotCombined);
            (selected && survivor).then_some(i)
        })
    }
}

/// chronyd's orphan rule: with no other selectable source, the usable (so reachable) orphan (a source at
/// exactly the orphan stratum) with the smallest reference ID is followed, if that ID is below
/// our own; otherwise this server becomes the orphan the others follow. A group of servers
/// polling each other so settles on one root instead of climbing strata.
fn orphan_to_follow(candidates: &[Candidate], orphans: &[usize], stratum: u8) -> Option<usize> {
    let root = orphans
        .iter()
        .copied()
        .filter(|&i| candidates[i].stratum == stratum)
        .min_by_key(|&i| candidates[i].reference_id)?;
    let ours = candidates[root].local_reference_id?;
    (candidates[root].reference_id < ours).then_some(root)
}

/// The intersection algorithm (RFC 5905 section 11.2.1): the smallest number of falsetickers
/// `f` for which some interval lies inside at least `n - f` correctness intervals.
fn majority_interval(intervals: &[(f64, f64)]) -> Option<(f64, f64)> {
    let n = intervals.len();
    let mut edges: Vec<(f64, i32)> = intervals
        .iter()
        .flat_map(|&(low, high)| [(low, -1), (high, 1)])
        .collect();
    // Lows before highs at equal points, so touching intervals count as overlapping.
    edges.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    for allowed_false in 0..n.div_ceil(2) {
        let needed = (n - allowed_false) as i32;
        let mut depth = 0;
        let mut low = None;
        for &(point, kind) in &edges {
            depth -= kind;
            if depth >= needed {
                low = Some(point);
                break;
            }
        }
        depth = 0;
        let mut high = None;
        for &(point, kind) in edges.iter().rev() {
            depth += kind;
            if depth >= needed {
                high = Some(point);
                break;
            }
        }
        if let (Some(low), Some(high)) = (low, high) {
            if low <= high {
                return Some((low, high));
            }
        }
    }
    None
}

pub fn select(candidates: &[Candidate], rules: &SelectionRules) -> Selection {
    let mut marks: Vec<Mark> = candidates
        .iter()
        .map(|c| {
            if !c.usable || c.distance > rules.max_distance {
                Mark::Unusable
            } else if c.jitter > rules.max_jitter {
                Mark::TooVariable
            } else {
                Mark::NotCombined
            }
        })
        .collect();
    let (orphans, mut eligible): (Vec<usize>, Vec<usize>) = (0..candidates.len())
        .filter(|&i| marks[i] == Mark::NotCombined)
        .partition(|&i| {
            rules
                .orphan_stratum
                .is_some_and(|stratum| candidates[i].stratum >= stratum)
        });
    for &i in &orphans {
        marks[i] = Mark::Unusable;
    }
    if eligible.is_empty() {
        if let Some(root) = rules
            .orphan_stratum
            .and_then(|stratum| orphan_to_follow(candidates, &orphans, stratum))
        {
            marks[root] = Mark::NotCombined;
            eligible.push(root);
        }
    }
    if eligible.is_empty() {
        return Selection {
            marks,
            selected: Err(NoSelection::NoSelectableSources),
        };
    }
    let intervals: Vec<(f64, f64)> = eligible
        .iter()
        .map(|&i| {
            let c = &candidates[i];
            (c.correction - c.distance, c.correction + c.distance)
        })
        .collect();
    let Some((low, high)) = majority_interval(&intervals) else {
        for &i in &eligible {
            marks[i] = Mark::Falseticker;
        }
        return Selection {
            marks,
            selected: Err(NoSelection::NoMajority),
        };
    };
    let mut survivors = Vec::new();
    for (&i, &(l, h)) in eligible.iter().zip(&intervals) {
        if h < low || l > high {
            marks[i] = Mark::Falseticker;
        } else {
            survivors.push(i);
        }
    }
    if survivors.is_empty() || survivors.len() < rules.min_sources {
        return Selection {
            marks,
            selected: Err(NoSelection::NotEnoughSources),
        };
    }
    let any_prefer = survivors.iter().any(|&i| candidates[i].prefer);
    let best = survivors
        .iter()
        .copied()
        .filter(|&i| !any_prefer || candidates[i].prefer)
        .min_by(|&a, &b| {
            let (a, b) = (&candidates[a], &candidates[b]);
            a.stratum
                .cmp(&b.stratum)
                .then(a.distance.total_cmp(&b.distance))
        })
        .expect("survivors is not empty");
    let limit = candidates[best].distance * rules.combine_limit;
    for &i in &survivors {
        marks[i] = if i == best {
            Mark::Selected
        } else if candidates[i].distance <= limit {
            Mark::Combined
        } else {
            Mark::NotCombined
        };
    }
    Selection {
        marks,
        selected: Ok(best),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(correction: f64, distance: f64) -> Candidate {
        Candidate {
            correction,
            distance,
            jitter: 1e-5,
            stratum: 1,
            usable: true,
            prefer: false,
            reference_id: 0xC000_0201,
            local_reference_id: Some(0xC000_0264),
        }
    }

    #[test]
    fn a_falseticker_is_marked_and_never_selected() {
        let candidates = [
            source(0.0001, 0.001),
            source(0.050, 0.001),
            source(-0.0001, 0.0008),
        ];
        let selection = select(&candidates, &SelectionRules::default());
        assert_eq!(
            selection.marks,
            [Mark::Combined, Mark::Falseticker, Mark::Selected]
        );
        assert_eq!(selection.selected, Ok(2));
    }

    #[test]
    fn two_disagreeing_sources_have_no_majority() {
        let candidates = [source(0.0, 0.001), source(0.050, 0.001)];
        let selection = select(&candidates, &SelectionRules::default());
        assert_eq!(selection.selected, Err(NoSelection::NoMajority));
        assert_eq!(selection.marks, [Mark::Falseticker, Mark::Falseticker]);
        assert_eq!(selection.voters().count(), 0);
    }

    #[test]
    fn unusable_variable_and_distant_sources_are_left_out() {
        let mut unreachable = source(0.0, 0.001);
        unreachable.usable = false;
        let mut jittery = source(0.0, 0.001);
        jittery.jitter = 2.0;
        let far = source(0.0, 5.0);
        let good = source(0.0, 0.002);
        let selection = select(
            &[unreachable, jittery, far, good],
            &SelectionRules::default(),
        );
        assert_eq!(
            selection.marks,
            [
                Mark::Unusable,
                Mark::TooVariable,
                Mark::Unusable,
                Mark::Selected
            ]
        );
    }

    #[test]
    fn prefer_wins_and_distant_survivors_are_not_combined() {
        let mut preferred = source(0.0, 0.004);
        preferred.prefer = true;
        let candidates = [source(0.0, 0.001), preferred, source(0.0, 0.02)];
        let selection = select(&candidates, &SelectionRules::default());
        assert_eq!(selection.selected, Ok(1));
        assert_eq!(
            selection.marks,
            [Mark::Combined, Mark::Selected, Mark::NotCombined]
        );
    }

    #[test]
    fn minsources_holds_back_selection() {
        let rules = SelectionRules {
            min_sources: 2,
            ..SelectionRules::default()
        };
        let selection = select(&[source(0.0, 0.001)], &rules);
        assert_eq!(selection.selected, Err(NoSelection::NotEnoughSources));
        assert_eq!(selection.marks, [Mark::NotCombined]);
    }

    fn at_stratum(stratum: u8, reference_id: u32) -> Candidate {
        Candidate {
            stratum,
            reference_id,
            local_reference_id: Some(0x7F00_0005),
            ..source(0.0, 0.001)
        }
    }

    #[test]
    fn orphans_follow_the_smallest_reference_id_below_their_own() {
        let rules = SelectionRules {
            orphan_stratum: Some(10),
            ..SelectionRules::default()
        };
        // The other orphan's ID is smaller than ours: it is the root and we follow it.
        let lower = select(&[at_stratum(10, 0x7F00_0002)], &rules);
        assert_eq!(lower.selected, Ok(0));
        // Ours is smaller: we are the root and follow no one.
        let higher = select(&[at_stratum(10, 0x7F00_0009)], &rules);
        assert_eq!(higher.selected, Err(NoSelection::NoSelectableSources));
        assert_eq!(higher.marks, [Mark::Unusable]);
        // A server following an orphan (stratum 11) is never followed: no climbing strata.
        let follower = select(&[at_stratum(11, 0x7F00_0001)], &rules);
        assert_eq!(follower.selected, Err(NoSelection::NoSelectableSources));
        // Of two orphans the smaller ID is the root; an unreachable one does not count.
        let mut silent = at_stratum(10, 0x7F00_0001);
        silent.usable = false;
        let two = select(&[at_stratum(10, 0x7F00_0003), silent], &rules);
        assert_eq!(two.selected, Ok(0));
        // A real source below the orphan stratum wins over any orphan.
        let real = select(
            &[at_stratum(10, 0x7F00_0001), at_stratum(2, 0xC000_0201)],
            &rules,
        );
        assert_eq!(real.selected, Ok(1));
        assert_eq!(real.marks[0], Mark::Unusable);
        // Without `orphan` a stratum-10 source is an ordinary one.
        let plain = select(&[at_stratum(10, 0x7F00_0009)], &SelectionRules::default());
        assert_eq!(plain.selected, Ok(0));
    }
}
