//! HTML text of a page: escaping, numbers as the page writes them, the page's frame and style, headline figures and tables.

/// Text made safe for element content and quoted attribute values, in HTML and in inline SVG.
pub fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            _ => escaped.push(c),
        }
    }
    escaped
}

/// Digits grouped by thousands with commas, as the README writes rates.
fn grouped(digits: &str) -> String {
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

/// A count with its thousands grouped.
pub fn count(value: u64) -> String {
    grouped(&value.to_string())
}

/// A measured value with three significant digits, or more when it has over three whole
/// digits, thousands grouped; `-` for a value that is not a number.
pub fn number(value: f64) -> String {
    if !value.is_finite() {
        return "-".to_string();
    }
    if value == 0.0 {
        return "0".to_string();
    }
    let decimals = (2.0 - value.abs().log10().floor()).clamp(0.0, 9.0) as usize;
    let text = format!("{:.decimals$}", value.abs());
    let (whole, fraction) = text.split_once('.').unwrap_or((&text, ""));
    let sign = if value < 0.0 { "-" } else { "" };
    if fraction.is_empty() {
        format!("{sign}{}", grouped(whole))
    } else {
        format!("{sign}{}.{fraction}", grouped(whole))
    }
}

/// `number` followed by a unit, or `no samples` when there is no value.
pub fn measured(value: Option<f64>, unit: &str) -> String {
    value.map_or_else(
        || "no samples".to_string(),
        |v| format!("{} {unit}", number(v)),
    )
}

/// Only system fonts and no external resource: the page must look the same offline.
const STYLE: &str = "\
body{font:15px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;color:#1d2330;background:#fff;\
max-width:960px;margin:0 auto;padding:24px}\
h1{font-size:1.5em;margin:0 0 .5em}\
h2{font-size:1.15em;margin:2em 0 .6em;padding-bottom:.2em;border-bottom:1px solid #dde1e8}\
dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:.15em 1em;margin:0}\
dl.facts dt{color:#5a6275}\
dl.facts dd{margin:0;font-family:ui-monospace,monospace;overflow-wrap:anywhere}\
.tiles{display:flex;flex-wrap:wrap;gap:12px;margin:1.4em 0}\
.tile{border:1px solid #dde1e8;border-radius:6px;padding:.5em 1em;min-width:140px}\
.tile .value{font-size:1.5em;font-weight:600}\
.tile .label{color:#5a6275;font-size:.85em}\
figure{margin:0}\
figcaption{font-weight:600;margin:1em 0 .2em}\
svg{width:100%;height:auto;font:12px system-ui,sans-serif}\
table{border-collapse:collapse;margin:.6em 0 1em;font-variant-numeric:tabular-nums}\
th,td{padding:.25em .8em;border-bottom:1px solid #e6e9ef;text-align:right}\
th:first-child,td:first-child{text-align:left}\
th{font-weight:600;color:#5a6275}\
.warning{background:#fff4e0;border-left:4px solid #e8a33d;padding:.5em 1em}";

/// A page being written, top to bottom.
pub struct Page {
    html: String,
}

impl Page {
    /// Opens the page: its title, then the facts of its header as label and value.
    pub fn new(title: &str, facts: &[(&str, String)]) -> Page {
        let title = escape(title);
        let mut html = format!(
            "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
             <title>{title}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n\
             <header>\n<h1>{title}</h1>\n<dl class=\"facts\">\n"
        );
        for (label, value) in facts {
            html.push_str(&format!(
                "<dt>{}</dt><dd>{}</dd>\n",
                escape(label),
                escape(value)
            ));
        }
        html.push_str("</dl>\n</header>\n");
        Page { html }
    }

    pub fn heading(&mut self, text: &str) {
        self.html.push_str(&format!("<h2>{}</h2>\n", escape(text)));
    }

    pub fn note(&mut self, text: &str) {
        self.html.push_str(&format!("<p>{}</p>\n", escape(text)));
    }

    /// A note set apart: something that changes how the figures must be read.
    pub fn warning(&mut self, text: &str) {
        self.html
            .push_str(&format!("<p class=\"warning\">{}</p>\n", escape(text)));
    }

    /// The few figures a reader looks for first, each large above its label.
    pub fn tiles(&mut self, tiles: &[(&str, String)]) {
        self.html.push_str("<div class=\"tiles\">\n");
        for (label, value) in tiles {
            self.html.push_str(&format!(
                "<div class=\"tile\"><div class=\"value\">{}</div><div class=\"label\">{}</div></div>\n",
                escape(value),
                escape(label)
            ));
        }
        self.html.push_str("</div>\n");
    }

    /// A chart made by `svg`, whose text is escaped there.
    pub fn chart(&mut self, svg: &str) {
        self.html.push_str("<figure>\n");
        self.html.push_str(svg);
        self.html.push_str("</figure>\n");
    }

    /// A chart made by `svg` under a visible caption, for pages with several charts alike.
    pub fn captioned_chart(&mut self, caption: &str, svg: &str) {
        self.html.push_str(&format!(
            "<figure>\n<figcaption>{}</figcaption>\n{svg}</figure>\n",
            escape(caption)
        ));
    }

    /// A table of plain-text cells, the first column left-aligned as labels, the others
    /// right-aligned as numbers.
    pub fn table(&mut self, head: &[&str], rows: &[Vec<String>]) {
        self.html.push_str("<table>\n<thead><tr>");
        for cell in head {
            self.html.push_str(&format!("<th>{}</th>", escape(cell)));
        }
        self.html.push_str("</tr></thead>\n<tbody>\n");
        for row in rows {
            self.html.push_str("<tr>");
            for cell in row {
                self.html.push_str(&format!("<td>{}</td>", escape(cell)));
            }
            self.html.push_str("</tr>\n");
        }
        self.html.push_str("</tbody>\n</table>\n");
    }

    pub fn finish(mut self) -> String {
        self.html.push_str("</body>\n</html>\n");
        self.html
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::html::well_formed::assert_well_formed;

    #[test]
    fn markup_characters_are_escaped() {
        assert_eq!(
            escape(r#"<script>alert("x" & 'y')</script>"#),
            "&lt;script&gt;alert(&quot;x&quot; &amp; &#39;y&#39;)&lt;/script&gt;"
        );
        assert_eq!(escape("plain µs"), "plain µs");
    }

    #[test]
    fn numbers_keep_three_significant_digits_and_group_thousands() {
        assert_eq!(number(0.0), "0");
        assert_eq!(number(0.01234), "0.0123");
        assert_eq!(number(0.1), "0.100");
        assert_eq!(number(2.5), "2.50");
        assert_eq!(number(23.45), "23.4");
        assert_eq!(number(1_234_567.8), "1,234,568");
        assert_eq!(number(-1_500.0), "-1,500");
        assert_eq!(number(f64::NAN), "-");
        assert_eq!(count(999), "999");
        assert_eq!(count(1_000), "1,000");
        assert_eq!(measured(None, "µs"), "no samples");
        assert_eq!(measured(Some(12.0), "µs"), "12.0 µs");
    }

    #[test]
    fn every_text_on_a_page_is_escaped_and_its_tags_balance() {
        let mut page = Page::new("<t>", &[("a&b", "<c>".to_string())]);
        page.heading("<h>");
        page.note("<n>");
        page.warning("<w>");
        page.tiles(&[("<l>", "<v>".to_string())]);
        page.captioned_chart("<cap>", "<svg></svg>");
        page.table(&["<th>"], &[vec!["<td>".to_string()]]);
        let html = page.finish();
        assert!(html.starts_with("<!DOCTYPE html>"));
        assert_well_formed(&html);
        for text in [
            "&lt;t&gt;",
            "a&amp;b",
            "&lt;c&gt;",
            "&lt;td&gt;",
            "&lt;v&gt;",
            "<figcaption>&lt;cap&gt;</figcaption>",
        ] {
            assert!(html.contains(text), "{text} in {html}");
        }
        assert!(!html.contains("<td><td>"));
    }
}
