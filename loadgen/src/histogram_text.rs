//! Latency histograms as JSON strings: HdrHistogram's V2 format, deflated, in base64 (`HISTF...`), so that runs merge exactly.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hdrhistogram::serialization::{Deserializer, Serializer, V2DeflateSerializer};
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

/// Why a histogram string could not be read back.
#[derive(Debug, thiserror::Error)]
pub enum HistogramTextError {
    #[error("not base64: {0}")]
    Base64(#[from] base64::DecodeError),
    #[error("not an HdrHistogram V2 histogram: {0}")]
    Format(#[from] hdrhistogram::serialization::DeserializeError),
}

/// The histogram in the text form the JSON carries; the same string HdrHistogram's other
/// implementations (Java, Go, Python's `hdrh`) read with their `decode` of a compressed histogram.
pub fn encode(histogram: &Histogram<u64>) -> String {
    let mut bytes = Vec::new();
    V2DeflateSerializer::new()
        .serialize(histogram, &mut bytes)
        .expect("a u64 histogram serialises into memory");
    STANDARD.encode(bytes)
}

/// The histogram `text` (from `encode`, or any V2 writer, deflated or not) holds.
pub fn decode(text: &str) -> Result<Histogram<u64>, HistogramTextError> {
    let bytes = STANDARD.decode(text)?;
    Ok(Deserializer::new().deserialize(&mut bytes.as_slice())?)
}

/// A histogram that serialises as its `encode` text.
#[derive(Clone, Debug, PartialEq)]
pub struct HistogramText(pub Histogram<u64>);

impl Serialize for HistogramText {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&encode(&self.0))
    }
}

impl<'de> Deserialize<'de> for HistogramText {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        decode(&text)
            .map(HistogramText)
            .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_histogram_survives_its_text() {
        let mut histogram = Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 3).unwrap();
        for value in [1, 17, 20_000, 20_001, 999_999, 59_000_000_000] {
            histogram.record(value).unwrap();
        }
        let text = encode(&histogram);
        assert!(text.starts_with("HISTF"), "{text}");
        let back = decode(&text).unwrap();
        assert_eq!(back, histogram);
        assert_eq!(back.high(), histogram.high());
        assert_eq!(back.sigfig(), histogram.sigfig());
    }

    #[test]
    fn an_empty_histogram_has_a_text_too() {
        let histogram = Histogram::<u64>::new_with_bounds(1, 1_000, 2).unwrap();
        assert!(decode(&encode(&histogram)).unwrap().is_empty());
    }

    #[test]
    fn garbage_is_refused_with_its_reason() {
        assert!(matches!(
            decode("not base64!"),
            Err(HistogramTextError::Base64(_))
        ));
        assert!(matches!(
            decode("SElTVA=="),
            Err(HistogramTextError::Format(_))
        ));
    }
}
