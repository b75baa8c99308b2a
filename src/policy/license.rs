//! Whether an SPDX licence expression can be satisfied with the allowed
//! licences: `OR` needs one side, `AND` both, `X WITH E` passes when
//! `X WITH E` or `X` is allowed; cargo's old `MIT/Apache-2.0` means `OR`.
//! A small evaluator rather than the `spdx` crate: the policy needs no
//! licence list, and the crate would compile one into every scopectl.

/// Whether `expression` passes with `allowed` (compared case-insensitively).
pub fn satisfied(expression: &str, allowed: &[String]) -> bool {
    let tokens = tokenize(expression);
    let mut parser = Parser {
        tokens: &tokens,
        at: 0,
        allowed,
    };
    let value = parser.or();
    value && parser.at == tokens.len()
}

fn tokenize(expression: &str) -> Vec<String> {
    let spaced = expression
        .replace('(', " ( ")
        .replace(')', " ) ")
        .replace('/', " OR ");
    spaced.split_whitespace().map(str::to_owned).collect()
}

struct Parser<'a> {
    tokens: &'a [String],
    at: usize,
    allowed: &'a [String],
}

impl Parser<'_> {
    fn peek(&self) -> Option<&str> {
        self.tokens.get(self.at).map(String::as_str)
    }

    fn eat(&mut self, word: &str) -> bool {
        if self.peek().is_some_and(|t| t.eq_ignore_ascii_case(word)) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    fn or(&mut self) -> bool {
        let mut value = self.and();
        while self.eat("OR") {
            value |= self.and();
        }
        value
    }

    fn and(&mut self) -> bool {
        let mut value = self.term();
        while self.eat("AND") {
            value &= self.term();
        }
        value
    }

    fn term(&mut self) -> bool {
        if self.eat("(") {
            let value = self.or();
            // An unclosed group fails the whole expression (the parser
            // does not reach the end).
            return self.eat(")") && value;
        }
        let Some(id) = self.peek().map(str::to_owned) else {
            return false;
        };
        self.at += 1;
        let id = id.trim_end_matches('+');
        let allowed = |name: &str| self.allowed.iter().any(|a| a.eq_ignore_ascii_case(name));
        if self.eat("WITH") {
            let exception = self.peek().unwrap_or_default().to_owned();
            self.at += 1;
            return allowed(&format!("{id} WITH {exception}")) || allowed(id);
        }
        allowed(id)
    }
}

#[cfg(test)]
mod tests {
    use super::satisfied;

    #[test]
    fn expressions_are_evaluated() {
        let allowed: Vec<String> = ["MIT", "Apache-2.0", "BSD-3-Clause"]
            .map(String::from)
            .to_vec();
        for (expression, expected) in [
            ("MIT", true),
            ("mit", true),
            ("GPL-3.0", false),
            ("MIT OR GPL-3.0", true),
            ("MIT AND GPL-3.0", false),
            ("MIT/Apache-2.0", true),
            ("(MIT OR Apache-2.0) AND Unicode-3.0", false),
            ("(MIT OR Apache-2.0) AND BSD-3-Clause", true),
            ("Apache-2.0 WITH LLVM-exception", true),
            ("GPL-2.0 WITH Classpath-exception-2.0", false),
            ("(MIT", false),
            ("", false),
        ] {
            assert_eq!(satisfied(expression, &allowed), expected, "{expression}");
        }
    }
}
