//! Rust identifiers from model names: invalid characters become `_`, keywords get a `_`
//! suffix, a leading digit gets a letter in front, and repeated names are numbered
//! (`x`, `x_1`, `x_2`, ...). Also the escaping of model strings placed in comments.

use std::collections::BTreeSet;

/// Every Rust keyword: strict, reserved, and those of editions 2018–2024 (`async`, `await`,
/// `dyn`, `try`, `gen`), plus the weak keywords that cannot name a field or item.
pub const RUST_KEYWORDS: &[&str] = &[
    "Self", "abstract", "as", "async", "await", "become", "box", "break", "const", "continue",
    "crate", "do", "dyn", "else", "enum", "extern", "false", "final", "fn", "for", "gen", "if",
    "impl", "in", "let", "loop", "macro", "match", "mod", "move", "mut", "override", "priv", "pub",
    "ref", "return", "self", "static", "struct", "super", "trait", "true", "try", "type", "typeof",
    "union", "unsafe", "unsized", "use", "virtual", "where", "while", "yield",
];

/// Every C keyword (C99 through C23, including the `_Reserved` forms) and the macros of
/// the standard headers the C emitter includes that would clash with a variable name.
/// Names are kept clear of these too, so one sanitized name serves both emitters.
pub const C_KEYWORDS: &[&str] = &[
    "_Alignas",
    "_Alignof",
    "_Atomic",
    "_BitInt",
    "_Bool",
    "_Complex",
    "_Decimal128",
    "_Decimal32",
    "_Decimal64",
    "_Generic",
    "_Imaginary",
    "_Noreturn",
    "_Static_assert",
    "_Thread_local",
    "alignas",
    "alignof",
    "auto",
    "bool",
    "break",
    "case",
    "char",
    "const",
    "constexpr",
    "continue",
    "default",
    "do",
    "double",
    "else",
    "enum",
    "extern",
    "false",
    "float",
    "for",
    "goto",
    "if",
    "inline",
    "int",
    "long",
    "nullptr",
    "register",
    "restrict",
    "return",
    "short",
    "signed",
    "sizeof",
    "static",
    "static_assert",
    "struct",
    "switch",
    "thread_local",
    "true",
    "typedef",
    "typeof",
    "typeof_unqual",
    "union",
    "unsigned",
    "void",
    "volatile",
    "while",
    "NULL",
    "EOF",
    "INFINITY",
    "NAN",
    "errno",
    "main",
];

/// Longest identifier handed out, before a collision suffix: model names can be
/// arbitrarily long (up to the frontend's 4 KiB), identifiers should stay readable.
pub const MAX_IDENT_LEN: usize = 48;

/// The case an identifier is written in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Case {
    /// `snake_case`: fields and locals.
    Snake,
    /// `SCREAMING_SNAKE_CASE`: statics and constants.
    Screaming,
}

/// Hands out unique identifiers in one namespace.
#[derive(Clone, Debug)]
pub struct Namer {
    case: Case,
    used: BTreeSet<String>,
}

impl Namer {
    pub fn new(case: Case) -> Self {
        Namer {
            case,
            used: BTreeSet::new(),
        }
    }

    /// Marks `name` as taken (names the generated code uses itself).
    pub fn reserve(&mut self, name: &str) {
        self.used.insert(name.to_string());
    }

    /// A fresh identifier for the model name `raw`.
    pub fn name(&mut self, raw: &str) -> String {
        let base = sanitize(raw, self.case);
        let mut candidate = base.clone();
        let mut n = 1;
        // `type_` numbers as `type_1`: a doubled `_` would trip the snake-case lint.
        let sep = if base.ends_with('_') { "" } else { "_" };
        while self.used.contains(&candidate) {
            candidate = format!("{base}{sep}{n}");
            n += 1;
        }
        self.used.insert(candidate.clone());
        candidate
    }
}

/// `raw` as a valid, lint-clean identifier in `case` (not yet made unique).
pub fn sanitize(raw: &str, case: Case) -> String {
    let chars: Vec<char> = raw.chars().collect();
    let mut words = String::new();
    for (i, &c) in chars.iter().enumerate() {
        if c.is_ascii_alphanumeric() {
            // camelCase and HTTPServer split into words before the upper-case letter.
            let prev = i.checked_sub(1).map(|j| chars[j]);
            let next = chars.get(i + 1).copied();
            // After a digit only a capitalised word starts one (`1Conv`), so `Conv2D` stays
            // one word (`CONV2D`, not `CONV2_D`).
            let starts_word = next.is_some_and(|n| n.is_ascii_lowercase());
            let boundary = c.is_ascii_uppercase()
                && prev.is_some_and(|p| {
                    p.is_ascii_lowercase()
                        || (p.is_ascii_digit() && starts_word)
                        || (p.is_ascii_uppercase() && starts_word)
                });
            if boundary {
                words.push('_');
            }
            words.push(c);
        } else {
            words.push('_');
        }
    }
    // Runs of `_` collapse (`a__b` trips the snake-case lint), and none lead or trail.
    let mut s = String::new();
    for part in words.split('_').filter(|p| !p.is_empty()) {
        if !s.is_empty() {
            s.push('_');
        }
        s.push_str(part);
    }
    let mut s = match case {
        Case::Snake => s.to_ascii_lowercase(),
        Case::Screaming => s.to_ascii_uppercase(),
    };
    let prefix = if case == Case::Snake { "v" } else { "V" };
    if s.is_empty() {
        s = prefix.to_string();
    } else if s.starts_with(|c: char| c.is_ascii_digit()) {
        s.insert_str(0, prefix);
    }
    if s.len() > MAX_IDENT_LEN {
        // All ASCII by now, so any index is a char boundary. Cut at the last word boundary
        // that keeps at least half the length, so no word is cut in two
        // (`..._BATCH_NORMALIZATIO`).
        let cut = s[..=MAX_IDENT_LEN]
            .rfind('_')
            .filter(|&i| i >= MAX_IDENT_LEN / 2)
            .unwrap_or(MAX_IDENT_LEN);
        s.truncate(cut);
        while s.ends_with('_') {
            s.pop();
        }
    }
    if is_keyword(&s) {
        s.push('_');
    }
    s
}

/// The shape constant of a port, `<IDENT>_SHAPE`.
pub fn shape_const(ident: &str) -> String {
    port_const(ident, "SHAPE")
}

/// A constant describing a port, `<IDENT>_<WHAT>`. The suffixes in use (`SHAPE`,
/// `ELEMENTS`, `SCALE`, `ZERO_POINT`) do not end one another, so two ports' constants
/// cannot collide, nor collide with the module's own (`ARENA_BYTES`, `MACS`, `MODEL_*`).
pub fn port_const(ident: &str, what: &str) -> String {
    format!(
        "{}_{what}",
        ident.trim_end_matches('_').to_ascii_uppercase()
    )
}

/// The suffixes of the constants each port has (see [`port_const`]).
pub const PORT_CONSTS: [&str; 4] = ["SHAPE", "ELEMENTS", "SCALE", "ZERO_POINT"];

/// The module's own constants, reserved so no static takes their names.
pub const MODULE_CONSTS: [&str; 5] = [
    "ARENA_BYTES",
    "MACS",
    "MODEL_FILE",
    "MODEL_NAME",
    "MODEL_SHA256",
];

/// A Rust or C keyword (case-sensitive, as both languages are).
pub fn is_keyword(s: &str) -> bool {
    RUST_KEYWORDS.contains(&s) || C_KEYWORDS.contains(&s)
}

/// A model string as a double-quoted literal of printable ASCII: everything else is
/// escaped, so it cannot end a comment, start a new line or reorder text.
pub fn quote(raw: &str) -> String {
    format!("\"{}\"", escape(raw))
}

/// A model string for a comment, unquoted, with the same escaping as [`quote`], and `*/`
/// and `/*` broken up so it can neither end nor open a block comment (Rust nests them, C
/// ends at the first `*/`).
pub fn escape(raw: &str) -> String {
    let s: String = raw.chars().flat_map(char::escape_default).collect();
    s.replace("*/", "*\\/").replace("/*", "/\\*")
}

/// A Cargo package name: lower-case ASCII letters, digits and single `-` or `_`
/// separators, starting with a letter, so the library name cargo derives from it is also a
/// lint-clean snake-case identifier.
pub fn crate_name(raw: &str) -> String {
    let mut s = String::new();
    for c in raw.chars() {
        let c = if c.is_ascii_alphanumeric() || c == '-' {
            c.to_ascii_lowercase()
        } else {
            '_'
        };
        let sep = c == '-' || c == '_';
        if sep && (s.is_empty() || s.ends_with(['-', '_'])) {
            continue;
        }
        s.push(c);
    }
    while s.ends_with(['-', '_']) {
        s.pop();
    }
    s.truncate(MAX_IDENT_LEN);
    while s.ends_with(['-', '_']) {
        s.pop();
    }
    if !s.starts_with(|c: char| c.is_ascii_alphabetic()) {
        s.insert_str(0, if s.is_empty() { "model" } else { "model_" });
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitizes_model_names() {
        assert_eq!(sanitize("input.1", Case::Snake), "input_1");
        assert_eq!(sanitize("InputImage", Case::Snake), "input_image");
        assert_eq!(sanitize("HTTPServer", Case::Snake), "http_server");
        assert_eq!(
            sanitize("conv1/weight:0", Case::Screaming),
            "CONV1_WEIGHT_0"
        );
        assert_eq!(sanitize("0", Case::Snake), "v0");
        assert_eq!(sanitize("__", Case::Snake), "v");
        assert_eq!(sanitize("", Case::Screaming), "V");
        assert_eq!(sanitize("a__b_", Case::Snake), "a_b");
        assert_eq!(sanitize("ünïcode", Case::Snake), "n_code");
    }

    #[test]
    fn keywords_get_a_suffix() {
        for kw in [
            "type", "gen", "async", "try", "self", "Self", "crate", "yield", "dyn",
        ] {
            let s = sanitize(kw, Case::Snake);
            assert!(s.ends_with('_'), "{kw} -> {s}");
        }
        assert_eq!(sanitize("Self", Case::Snake), "self_");
    }

    #[test]
    fn collisions_are_numbered() {
        let mut n = Namer::new(Case::Snake);
        n.reserve("x_1");
        assert_eq!(n.name("x"), "x");
        assert_eq!(n.name("x"), "x_2");
        assert_eq!(n.name("X"), "x_3");
        assert_eq!(n.name("x.2"), "x_2_1");
        assert_eq!(n.name("type"), "type_");
        assert_eq!(n.name("type"), "type_1");
    }

    #[test]
    fn comment_strings_cannot_break_out() {
        assert_eq!(quote("a*/b\nc\u{202e}\""), "\"a*\\/b\\nc\\u{202e}\\\"\"");
        assert!(!escape("x\r\n\t").contains(['\r', '\n', '\t']));
        assert_eq!(crate_name("mlperf ic/resnet8"), "mlperf_ic_resnet8");
        assert_eq!(crate_name("8bit"), "model_8bit");
        assert_eq!(crate_name("evil* \"Model\"\n int"), "evil_model_int");
        assert_eq!(crate_name("--"), "model");
        for bad in ["a */ b", "/* x", "*/*/"] {
            let e = escape(bad);
            assert!(!e.contains("*/") && !e.contains("/*"), "{bad:?} -> {e:?}");
        }
    }

    #[test]
    fn c_keywords_and_long_names() {
        for kw in ["int", "char", "register", "volatile", "main"] {
            assert_eq!(sanitize(kw, Case::Snake), format!("{kw}_"));
        }
        assert_eq!(sanitize("null", Case::Screaming), "NULL_");
        assert_eq!(sanitize("eof", Case::Screaming), "EOF_");
        assert_eq!(sanitize("int", Case::Snake), "int_");
        assert_eq!(sanitize("void", Case::Snake), "void_");
        let long = "a".repeat(5000);
        assert_eq!(sanitize(&long, Case::Snake).len(), MAX_IDENT_LEN);
        let mut n = Namer::new(Case::Snake);
        let a = n.name(&format!("{long}x"));
        let b = n.name(&format!("{long}y"));
        assert_ne!(a, b);
        assert!(b.len() <= MAX_IDENT_LEN + 3);
    }
}
