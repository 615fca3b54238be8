//! Test helper: checks that markup's tags nest and close, and that no coordinate or figure on it is NaN or infinite.

/// Elements HTML writes without a closing tag.
const VOID_ELEMENTS: [&str; 2] = ["meta", "br"];

/// Panics unless every tag opened in `markup` is closed in order, and every number in an
/// attribute value is finite.
pub fn assert_well_formed(markup: &str) {
    let mut open: Vec<&str> = Vec::new();
    let mut rest = markup;
    while let Some(start) = rest.find('<') {
        let text = &rest[..start];
        assert!(!text.contains("NaN"), "NaN in text {text:?}");
        let after = &rest[start + 1..];
        let end = after
            .find('>')
            .unwrap_or_else(|| panic!("unclosed tag at {after:?}"));
        let tag = &after[..end];
        rest = &after[end + 1..];
        assert!(!tag.contains('<'), "'<' inside tag {tag:?}");
        assert_finite_attributes(tag);
        if tag.starts_with('!') {
            continue;
        }
        if let Some(name) = tag.strip_prefix('/') {
            assert_eq!(open.pop(), Some(name), "closing {name} in {open:?}");
        } else if !tag.ends_with('/') {
            let name = tag.split_whitespace().next().unwrap_or_default();
            if !VOID_ELEMENTS.contains(&name) {
                open.push(name);
            }
        }
    }
    assert!(!rest.contains("NaN"), "NaN in text {rest:?}");
    assert!(open.is_empty(), "never closed: {open:?}");
}

fn assert_finite_attributes(tag: &str) {
    for value in tag.split('"').skip(1).step_by(2) {
        for token in value.split([' ', ',']) {
            if let Ok(number) = token.parse::<f64>() {
                assert!(number.is_finite(), "{token} in <{tag}>");
            }
        }
    }
}

#[test]
fn unbalanced_or_nan_markup_is_caught() {
    assert_well_formed("<!DOCTYPE html><p>a<br><svg><rect x=\"1\"/></svg></p>");
    for bad in [
        "<p><b></p></b>",
        "<p>",
        "<rect x=\"NaN\"/>",
        "<polyline points=\"1,inf\"/>",
        "<p>NaN</p>",
    ] {
        assert!(
            std::panic::catch_unwind(|| assert_well_formed(bad)).is_err(),
            "{bad}"
        );
    }
}
