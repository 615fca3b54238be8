//! When to ask a source next: the reach register, iburst, the adaptive poll interval and KoD.

use super::local_time::LocalTime;
use super::measurement::Kiss;

/// Requests sent 2 s apart when a source starts with `iburst`: at least chrony's four, and up
/// to eight while the clock's frequency is still too uncertain for the first long poll.
pub const IBURST_REQUESTS: u8 = 4;
pub const IBURST_MAX_REQUESTS: u8 = 8;
pub const IBURST_INTERVAL: f64 = 2.0;
/// Samples in a row that must agree with the prediction before the poll interval doubles.
const CALM_SAMPLES_BEFORE_LONGER_POLL: u32 = 4;
/// A sample this far from the prediction (in standard deviations) halves the poll interval.
const SURPRISE_SIGMAS: f64 = 3.0;
/// How far each unanswered poll moves a silent source towards a longer interval, as chronyd
/// backs off (ntp_core.c): a whole step every four misses, and every ten for the source the
/// clock follows, which is given longer to come back.
const BACKOFF_PER_MISS: f64 = 0.25;
const FOLLOWED_BACKOFF_PER_MISS: f64 = 0.1;

/// Whether a source is still polled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Activity {
    Polling,
    /// A kiss-o'-death DENY or RSTR stopped it, as RFC 5905 requires.
    Stopped(Kiss),
}

#[derive(Clone, Debug)]
pub struct PollState {
    /// The last eight polls, newest in bit 0: set when it was answered (chronyc's octal Reach).
    pub reach: u8,
    /// The current poll interval, log2 seconds.
    pub poll: i8,
    pub min_poll: i8,
    pub max_poll: i8,
    pub next_poll: LocalTime,
    burst_left: u8,
    calm_samples: u32,
    /// Progress towards the next longer interval from polls left unanswered, 0 to 1.
    backoff: f64,
    pub activity: Activity,
    /// Polls sent, to tell a new source from a dead one.
    pub polls_sent: u64,
}

/// Seconds for a poll exponent.
pub fn interval(poll: i8) -> f64 {
    2f64.powi(i32::from(poll))
}

impl PollState {
    pub fn new(min_poll: i8, max_poll: i8, iburst: bool, now: LocalTime) -> Self {
        PollState {
            reach: 0,
            poll: min_poll,
            min_poll,
            max_poll: max_poll.max(min_poll),
            next_poll: now,
            burst_left: if iburst { IBURST_MAX_REQUESTS } else { 0 },
            calm_samples: 0,
            backoff: 0.0,
            activity: Activity::Polling,
            polls_sent: 0,
        }
    }

    /// Ends an iburst once its first four requests are out, when the caller has learnt enough.
    pub fn end_burst_if_done(&mut self, now: LocalTime) {
        let sent_in_burst = IBURST_MAX_REQUESTS - self.burst_left;
        if self.burst_left > 0 && sent_in_burst >= IBURST_REQUESTS {
            self.burst_left = 0;
            self.next_poll = self
                .next_poll
                .max(now + interval(self.poll) - IBURST_INTERVAL);
        }
    }

    pub fn in_burst(&self) -> bool {
        self.burst_left > 0
    }

    pub fn due(&self, now: LocalTime) -> bool {
        self.activity == Activity::Polling && now >= self.next_poll
    }

    /// A request goes out now: the reach register shifts and the next poll is scheduled. When
    /// the previous request went unanswered the source backs off towards `maxpoll`, slowly if
    /// it is the one the clock `follows`, so that a dead server is not asked every `minpoll`.
    pub fn sent(&mut self, now: LocalTime, follows: bool) {
        let previous_unanswered = self.polls_sent > 0 && self.reach & 1 == 0;
        if previous_unanswered && self.burst_left == 0 {
            self.backoff += if follows {
                FOLLOWED_BACKOFF_PER_MISS
            } else {
                BACKOFF_PER_MISS
            };
            if self.backoff >= 1.0 - 1e-9 {
                self.backoff = 0.0;
                self.calm_samples = 0;
                self.poll = (self.poll + 1).min(self.max_poll);
            }
        }
        self.reach <<= 1;
        self.polls_sent += 1;
        let wait = if self.burst_left > 0 {
            self.burst_left -= 1;
            if self.burst_left > 0 {
                IBURST_INTERVAL.min(interval(self.poll))
            } else {
                interval(self.poll)
            }
        } else {
            interval(self.poll)
        };
        self.next_poll = now + wait;
    }

    /// Our last request was answered with a usable sample; `normalised_innovation` says how
    /// far it was from the filter's prediction (squared, in variances). `longest_useful` is the
    /// longest poll over which the clock stays predictable within the measurement noise.
    pub fn answered(&mut self, normalised_innovation: f64, longest_useful: i8) {
        self.reach |= 1;
        self.backoff = 0.0;
        let ceiling = longest_useful.clamp(self.min_poll, self.max_poll);
        if normalised_innovation > SURPRISE_SIGMAS * SURPRISE_SIGMAS || self.poll > ceiling {
            self.calm_samples = 0;
            self.poll = (self.poll - 1).max(self.min_poll);
        } else {
            self.calm_samples += 1;
            if self.calm_samples >= CALM_SAMPLES_BEFORE_LONGER_POLL && self.poll < ceiling {
                self.poll += 1;
                self.calm_samples = 0;
            }
        }
    }

    /// How far the source has come towards a longer poll, 0 to 1 (chrony's poll score).
    pub fn score(&self) -> f64 {
        f64::from(self.calm_samples) / f64::from(CALM_SAMPLES_BEFORE_LONGER_POLL)
    }

    /// An answer that gives no sample but shows the server is there (e.g. unsynchronised).
    pub fn heard(&mut self) {
        self.reach |= 1;
        self.backoff = 0.0;
    }

    /// A kiss-o'-death from the server.
    pub fn kissed(&mut self, kiss: Kiss, server_poll: i8, now: LocalTime) {
        match kiss {
            Kiss::Rate => {
                self.poll = (self.poll + 1)
                    .max(server_poll)
                    .clamp(self.min_poll, self.max_poll);
                self.burst_left = 0;
                self.next_poll = now + interval(self.poll);
            }
            Kiss::Deny | Kiss::Restricted => self.activity = Activity::Stopped(kiss),
            Kiss::Other(_) => {}
        }
    }

    /// No answer to any of the last eight polls.
    pub fn unreachable(&self) -> bool {
        self.reach == 0 && self.polls_sent >= 8
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: f64) -> LocalTime {
        LocalTime::from_seconds_since_epoch(seconds)
    }

    #[test]
    fn reach_shows_the_last_eight_polls() {
        let mut poll = PollState::new(6, 10, false, LocalTime::EPOCH);
        for n in 0..8 {
            poll.sent(at(f64::from(n)), false);
            poll.answered(0.0, 10);
        }
        assert_eq!(poll.reach, 0o377);
        poll.sent(at(9.0), false);
        assert_eq!(poll.reach, 0o376);
        for n in 0..7 {
            poll.sent(at(10.0 + f64::from(n)), false);
        }
        assert_eq!(poll.reach, 0);
        assert!(poll.unreachable());
    }

    #[test]
    fn iburst_sends_four_to_eight_requests_two_seconds_apart_then_polls_at_minpoll() {
        let mut poll = PollState::new(6, 10, true, LocalTime::EPOCH);
        let mut times = Vec::new();
        let mut now = LocalTime::EPOCH;
        for _ in 0..6 {
            assert!(poll.due(now));
            times.push(now.seconds_since_epoch());
            poll.sent(now, false);
            now = poll.next_poll;
        }
        assert_eq!(times, [0.0, 2.0, 4.0, 6.0, 8.0, 10.0]);
        let mut poll = PollState::new(6, 10, true, LocalTime::EPOCH);
        for n in 0..4 {
            poll.sent(at(f64::from(n) * 2.0), false);
        }
        poll.end_burst_if_done(at(6.1));
        assert!(!poll.in_burst());
        assert_eq!(poll.next_poll, at(6.1 + 64.0 - 2.0));
        let mut eight = PollState::new(6, 10, true, LocalTime::EPOCH);
        for n in 0..8 {
            eight.sent(at(f64::from(n) * 2.0), false);
        }
        assert_eq!(
            eight.next_poll,
            at(14.0 + 64.0),
            "the eighth request ends the burst"
        );
    }

    #[test]
    fn calm_samples_lengthen_the_poll_and_surprises_shorten_it() {
        let mut poll = PollState::new(6, 8, false, LocalTime::EPOCH);
        for _ in 0..20 {
            poll.answered(1.0, 17);
        }
        assert_eq!(poll.poll, 8, "capped at maxpoll");
        poll.answered(100.0, 17);
        assert_eq!(poll.poll, 7);
        for _ in 0..5 {
            poll.answered(100.0, 17);
        }
        assert_eq!(poll.poll, 6, "never below minpoll");
    }

    #[test]
    fn the_poll_stays_within_what_the_clock_allows() {
        let mut poll = PollState::new(4, 10, false, LocalTime::EPOCH);
        for _ in 0..40 {
            poll.answered(1.0, 7);
        }
        assert_eq!(poll.poll, 7);
        poll.answered(1.0, 5);
        assert_eq!(
            poll.poll, 6,
            "a noisier clock brings the poll down step by step"
        );
    }

    #[test]
    fn an_unanswered_source_backs_off_towards_maxpoll_as_chronyd() {
        let silent_polls_to_maxpoll = |follows: bool| {
            let mut poll = PollState::new(6, 10, false, LocalTime::EPOCH);
            let mut polls = Vec::new();
            for _ in 0..200 {
                poll.sent(poll.next_poll, follows);
                polls.push(poll.poll);
            }
            polls
        };
        let other = silent_polls_to_maxpoll(false);
        // The first request is not a miss; from the second on, every fourth miss is a step.
        assert_eq!(other[..10], [6, 6, 6, 6, 7, 7, 7, 7, 8, 8]);
        assert_eq!(*other.last().unwrap(), 10, "up to maxpoll and no further");
        let followed = silent_polls_to_maxpoll(true);
        assert_eq!(followed[..12], [6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 7, 7]);

        // Four misses make a step; three more are counted when an answer comes.
        let mut poll = PollState::new(6, 10, false, LocalTime::EPOCH);
        for _ in 0..8 {
            poll.sent(poll.next_poll, false);
        }
        assert_eq!(poll.poll, 7);
        poll.answered(1.0, 17);
        assert_eq!(poll.poll, 7, "an answer keeps the interval backed off to");
        poll.sent(poll.next_poll, false);
        poll.sent(poll.next_poll, false);
        assert_eq!(
            poll.poll, 7,
            "an answer clears the misses counted before it"
        );
    }

    #[test]
    fn kiss_rate_raises_the_poll_and_deny_stops_the_source() {
        let mut poll = PollState::new(6, 10, true, LocalTime::EPOCH);
        poll.kissed(Kiss::Rate, 9, at(100.0));
        assert_eq!(poll.poll, 9);
        assert_eq!(poll.next_poll, at(100.0 + 512.0));
        poll.kissed(Kiss::Rate, 0, at(200.0));
        assert_eq!(poll.poll, 10);
        poll.kissed(Kiss::Deny, 0, at(300.0));
        assert_eq!(poll.activity, Activity::Stopped(Kiss::Deny));
        assert!(!poll.due(at(1e9)));
    }
}
