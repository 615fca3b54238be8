//! The project's Markdown documents as man pages: headings, paragraphs, lists, tables and code blocks in roff.

/// A man page `name(section)` with `title` on its NAME line, made from `markdown`.
pub fn to_man_page(name: &str, section: &str, title: &str, markdown: &str) -> String {
    let mut page = format!(
        ".TH {} {section} \"\" ringd\n.SH NAME\n{} \\- {}\n",
        name.to_uppercase(),
        escape(name),
        escape(title)
    );
    let mut in_code = false;
    for line in markdown.lines() {
        if line.starts_with("```") {
            page.push_str(if in_code { ".fi\n" } else { ".nf\n" });
            in_code = !in_code;
        } else if in_code {
            page.push_str(&escape(line));
            page.push('\n');
        } else if line.starts_with("# ") {
            // The document's title: the NAME line says it.
        } else if let Some(heading) = line.strip_prefix("## ") {
            page.push_str(&format!(
                ".SH {}\n",
                escape(&inline(heading)).to_uppercase()
            ));
        } else if let Some(heading) = line.strip_prefix("### ") {
            page.push_str(&format!(".SS {}\n", escape(&inline(heading))));
        } else if line.starts_with('|') {
            page.push_str(&table_row(line));
        } else if let Some(item) = line.strip_prefix("- ") {
            page.push_str(&format!(".IP \\(bu 2\n{}\n", escape(&inline(item))));
        } else if line.trim().is_empty() {
            page.push_str(".PP\n");
        } else {
            page.push_str(&escape(&inline(line.trim_start())));
            page.push('\n');
        }
    }
    page
}

/// A table row as a tagged paragraph: the first cell as the tag, the others after it. The
/// header row and the `---` row under it give no paragraph.
fn table_row(line: &str) -> String {
    let cells: Vec<String> = line
        .trim()
        .trim_matches('|')
        .split(" | ")
        .map(|cell| inline(cell.trim()))
        .collect();
    let is_rule = cells
        .iter()
        .all(|cell| !cell.is_empty() && cell.chars().all(|c| matches!(c, '-' | ':' | ' ')));
    if is_rule {
        return String::new();
    }
    let (tag, rest) = cells
        .split_first()
        .map_or(("", &[][..]), |(t, r)| (t.as_str(), r));
    format!(
        ".TP\n{}\n{}\n",
        escape(tag),
        escape(&rest.join(" \u{2014} "))
    )
}

/// Markdown's inline marks as plain text, with code and bold in bold (`\fB...\fR`): links keep
/// their text.
fn inline(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    let mut bold = false;
    while let Some(c) = chars.next() {
        match c {
            '`' => {
                out.push_str(if bold { "\u{1}R" } else { "\u{1}B" });
                bold = !bold;
            }
            '*' if chars.peek() == Some(&'*') => {
                chars.next();
                out.push_str(if bold { "\u{1}R" } else { "\u{1}B" });
                bold = !bold;
            }
            '[' => {
                let label: String = chars.by_ref().take_while(|&c| c != ']').collect();
                if chars.peek() == Some(&'(') {
                    chars.by_ref().take_while(|&c| c != ')').for_each(drop);
                }
                out.push_str(&label);
            }
            c => out.push(c),
        }
    }
    if bold {
        out.push_str("\u{1}R");
    }
    out
}

/// Text as roff takes it: backslashes doubled, a line that would read as a request guarded,
/// and the font changes `inline` marked put in.
fn escape(text: &str) -> String {
    let escaped = text.replace('\\', "\\e").replace('\u{1}', "\\f");
    if escaped.starts_with('.') || escaped.starts_with('\'') {
        format!("\\&{escaped}")
    } else {
        escaped
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_document_becomes_sections_paragraphs_lists_tables_and_code() {
        let page = to_man_page(
            "ringd-vsftpd.conf",
            "5",
            "the options",
            "# Title\n\n## Options\n\nText with `code` and a [link](x.md).\n\n\
             | option | default |\n| --- | --- |\n| `listen` | NO |\n\n- one\n\n\
             ```\n.dot \\ back\n```\n",
        );
        assert_eq!(
            page,
            ".TH RINGD-VSFTPD.CONF 5 \"\" ringd\n.SH NAME\nringd-vsftpd.conf \\- the options\n\
             .PP\n.SH OPTIONS\n.PP\nText with \\fBcode\\fR and a link.\n.PP\n\
             .TP\noption\ndefault\n.TP\n\\fBlisten\\fR\nNO\n.PP\n.IP \\(bu 2\none\n.PP\n\
             .nf\n\\&.dot \\e back\n.fi\n"
        );
    }
}
