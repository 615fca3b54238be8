//! chrony's driftfile format: the clock's frequency correction and its uncertainty, in ppm. The sync service reads and writes the file.

/// What a driftfile holds.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Drift {
    /// The correction that keeps the clock on time, in ppm (chrony's sign: positive means the
    /// uncorrected clock runs slow, so it is sped up).
    pub frequency_ppm: f64,
    /// Its estimated error, in ppm.
    pub skew_ppm: f64,
}

/// chronyd refuses frequencies beyond this; so does ringd, rather than start far off.
const MAX_FREQUENCY_PPM: f64 = 500.0;

/// Parses driftfile text; `None` when it is not two sane numbers (chronyd then starts as if
/// there were no file, and so does ringd).
pub fn parse(text: &str) -> Option<Drift> {
    let mut fields = text.split_whitespace();
    let frequency_ppm: f64 = fields.next()?.parse().ok()?;
    let skew_ppm: f64 = fields.next()?.parse().ok()?;
    let sane = frequency_ppm.is_finite()
        && frequency_ppm.abs() <= MAX_FREQUENCY_PPM
        && skew_ppm.is_finite()
        && skew_ppm >= 0.0;
    sane.then_some(Drift {
        frequency_ppm,
        skew_ppm,
    })
}

/// The file's text in chronyd's layout.
pub fn format(drift: &Drift) -> String {
    format!("{:20.6} {:20.6}\n", drift.frequency_ppm, drift.skew_ppm)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chronyd_driftfiles_are_read() {
        let drift = parse("          -12.345678             0.123456\n").unwrap();
        assert_eq!(drift.frequency_ppm, -12.345678);
        assert_eq!(drift.skew_ppm, 0.123456);
        assert_eq!(
            parse("3.5 0.2"),
            Some(Drift {
                frequency_ppm: 3.5,
                skew_ppm: 0.2
            })
        );
    }

    #[test]
    fn nonsense_is_ignored() {
        assert_eq!(parse(""), None);
        assert_eq!(parse("abc 1"), None);
        assert_eq!(parse("12.0"), None);
        assert_eq!(parse("900.0 1.0"), None);
        assert_eq!(parse("NaN 1.0"), None);
    }

    #[test]
    fn formatted_text_is_chronyds_layout_and_reads_back() {
        let drift = Drift {
            frequency_ppm: 17.25,
            skew_ppm: 0.031,
        };
        let text = format(&drift);
        assert_eq!(text, "           17.250000             0.031000\n");
        assert_eq!(parse(&text), Some(drift));
    }
}
