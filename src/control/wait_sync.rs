//! `ringctl waitsync`, chronyc's command that chrony-wait.service runs: when the tracking report counts as synchronised, and the line printed for each try.

use std::time::Duration;

/// chrony's reference ID of its `local` reference, which waitsync does not count.
const LOCAL_REFERENCE_ID: u32 = 0x7F7F_0101;
/// chronyc polls no more often than this.
const SHORTEST_INTERVAL: f64 = 0.1;

/// The limits, as `waitsync [max-tries [max-correction [max-skew [interval]]]]` gives them;
/// 0 means no limit, as in chronyc.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct WaitSync {
    pub max_tries: u32,
    pub max_correction: f64,
    pub max_skew_ppm: f64,
    pub interval: Duration,
}

/// What one try read from `tracking`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Try {
    pub reference_id: u32,
    /// How far the clock is off, as a magnitude.
    pub correction: f64,
    pub skew_ppm: f64,
}

impl WaitSync {
    /// chronyc's defaults for what is not given: unlimited tries, no correction or skew
    /// limit, every 10 s (never under 0.1 s).
    pub fn new(
        max_tries: Option<u32>,
        max_correction: Option<f64>,
        max_skew_ppm: Option<f64>,
        interval: Option<f64>,
    ) -> WaitSync {
        let interval = interval.unwrap_or(10.0).max(SHORTEST_INTERVAL);
        WaitSync {
            max_tries: max_tries.unwrap_or(0),
            max_correction: max_correction.unwrap_or(0.0),
            max_skew_ppm: max_skew_ppm.unwrap_or(0.0),
            interval: Duration::from_secs_f64(interval),
        }
    }

    /// Synchronised to a real reference, within the limits given.
    pub fn is_synchronised(&self, reading: &Try) -> bool {
        let referenced = reading.reference_id != 0 && reading.reference_id != LOCAL_REFERENCE_ID;
        referenced
            && (self.max_correction == 0.0 || reading.correction <= self.max_correction)
            && (self.max_skew_ppm == 0.0 || reading.skew_ppm <= self.max_skew_ppm)
    }

    /// Whether try number `done` (from 1) was the last allowed.
    pub fn out_of_tries(&self, done: u32) -> bool {
        self.max_tries != 0 && done >= self.max_tries
    }
}

impl Try {
    /// The reading in a `tracking` report's JSON data.
    pub fn from_tracking(data: &serde_json::Value) -> Option<Try> {
        Some(Try {
            reference_id: u32::try_from(data["reference_id"].as_u64()?).ok()?,
            correction: data["system_time_offset"].as_f64()?.abs(),
            skew_ppm: data["skew_ppm"].as_f64()?,
        })
    }

    /// chronyc's line for try `number`, or its CSV.
    pub fn line(&self, number: u32, csv: bool) -> String {
        if csv {
            format!(
                "{number},{:08X},{:.9},{:.3}\n",
                self.reference_id, self.correction, self.skew_ppm
            )
        } else {
            format!(
                "try: {number}, refid: {:08X}, correction: {:.9}, skew: {:.3}\n",
                self.reference_id, self.correction, self.skew_ppm
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reading(reference_id: u32, correction: f64, skew_ppm: f64) -> Try {
        Try {
            reference_id,
            correction,
            skew_ppm,
        }
    }

    #[test]
    fn defaults_and_limits_are_chronycs() {
        let wait = WaitSync::new(None, None, None, Some(0.01));
        assert_eq!(wait.max_tries, 0);
        assert_eq!(wait.interval, Duration::from_millis(100));
        assert!(!wait.out_of_tries(1_000_000));
        assert!(WaitSync::new(Some(3), None, None, None).out_of_tries(3));
        assert_eq!(
            WaitSync::new(None, None, None, None).interval,
            Duration::from_secs(10)
        );
    }

    #[test]
    fn only_a_real_reference_within_the_limits_counts() {
        let any = WaitSync::new(None, None, None, None);
        assert!(any.is_synchronised(&reading(0x7F00_0001, 5.0, 100.0)));
        assert!(!any.is_synchronised(&reading(0, 0.0, 0.0)));
        assert!(!any.is_synchronised(&reading(LOCAL_REFERENCE_ID, 0.0, 0.0)));
        let strict = WaitSync::new(Some(10), Some(0.001), Some(1.0), None);
        assert!(strict.is_synchronised(&reading(1, 0.0005, 0.5)));
        assert!(!strict.is_synchronised(&reading(1, 0.002, 0.5)));
        assert!(!strict.is_synchronised(&reading(1, 0.0005, 2.0)));
    }

    #[test]
    fn lines_match_chronyc() {
        // chronyc 4.3 against a chronyd with `local stratum 10`:
        // try: 1, refid: 7F7F0101, correction: 0.000000000, skew: 0.000
        let local = reading(LOCAL_REFERENCE_ID, 0.0, 0.0);
        assert_eq!(
            local.line(1, false),
            "try: 1, refid: 7F7F0101, correction: 0.000000000, skew: 0.000\n"
        );
        assert_eq!(local.line(1, true), "1,7F7F0101,0.000000000,0.000\n");
        let data = serde_json::json!({"reference_id": 2130706433u32, "system_time_offset": -0.25, "skew_ppm": 0.5});
        assert_eq!(
            Try::from_tracking(&data),
            Some(reading(0x7F00_0001, 0.25, 0.5))
        );
    }
}
