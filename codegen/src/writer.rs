//! A line writer with indentation, so emitters never count spaces.

pub(crate) struct Writer {
    out: String,
    indent: usize,
}

impl Writer {
    pub(crate) fn new(indent: usize) -> Self {
        Writer {
            out: String::new(),
            indent,
        }
    }

    /// One line at the current indentation (an empty line has no trailing spaces).
    pub(crate) fn line(&mut self, s: impl AsRef<str>) {
        let s = s.as_ref();
        if !s.is_empty() {
            for _ in 0..self.indent {
                self.out.push_str("    ");
            }
            self.out.push_str(s);
        }
        self.out.push('\n');
    }

    /// A line that opens a block (`... {`); what follows is indented one level more.
    pub(crate) fn open(&mut self, s: impl AsRef<str>) {
        self.line(s);
        self.indent += 1;
    }

    /// Closes a block opened with [`Writer::open`] with the line `s` (`}`, `});`, ...).
    pub(crate) fn close(&mut self, s: impl AsRef<str>) {
        self.indent = self.indent.saturating_sub(1);
        self.line(s);
    }

    /// Closes a block and opens the next with the one line `s` (`}, x, Next {`).
    pub(crate) fn reopen(&mut self, s: impl AsRef<str>) {
        self.indent = self.indent.saturating_sub(1);
        self.open(s);
    }

    /// Appends text written by another writer (already indented).
    pub(crate) fn append(&mut self, text: &str) {
        self.out.push_str(text);
    }

    pub(crate) fn finish(self) -> String {
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indents_blocks() {
        let mut w = Writer::new(1);
        w.open("{");
        w.line("a();");
        w.line("");
        w.close("}");
        assert_eq!(w.finish(), "    {\n        a();\n\n    }\n");
    }
}
