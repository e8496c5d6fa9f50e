//! Reads what a Dockerfile's final stage says about the running container (user, entrypoint,
//! ports, environment, labels, working folder, copied paths), so that the images built here
//! (`deploy/docker/*.local.Dockerfile`) can be checked against the registry recipes
//! (`deploy/docker/*.Dockerfile`) they stand in for. Pure: text in, facts out.

use std::collections::BTreeMap;

use anyhow::{bail, Context, Result};

/// The final stage of a Dockerfile: what the image it builds runs with.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct FinalStage {
    /// The `FROM` argument (unexpanded).
    pub from: String,
    pub user: Option<String>,
    pub workdir: Option<String>,
    /// The exec form of `ENTRYPOINT`.
    pub entrypoint: Vec<String>,
    pub expose: Vec<String>,
    pub env: BTreeMap<String, String>,
    pub labels: BTreeMap<String, String>,
    pub copies: Vec<Copy>,
}

/// One `COPY` of the final stage.
#[derive(Debug, PartialEq, Eq)]
pub struct Copy {
    /// The stage named by `--from=`, if any.
    pub from: Option<String>,
    pub sources: Vec<String>,
    pub dest: String,
}

impl FinalStage {
    /// Whether some `COPY` writes exactly `path` (as its destination, or as a source file placed
    /// into a destination folder ending in `/`).
    pub fn copies_to(&self, path: &str) -> bool {
        self.copies.iter().any(|copy| {
            copy.dest == path
                || (copy.dest.ends_with('/')
                    && copy.sources.iter().any(|source| {
                        let name = source.trim_end_matches('/').rsplit('/').next();
                        name.is_some_and(|name| format!("{}{name}", copy.dest) == path)
                    }))
        })
    }
}

/// Parses a Dockerfile and returns its last stage.
pub fn parse(text: &str) -> Result<FinalStage> {
    let mut stage: Option<FinalStage> = None;
    for (number, instruction) in instructions(text) {
        let (keyword, rest) = instruction
            .split_once(char::is_whitespace)
            .map(|(k, r)| (k, r.trim()))
            .unwrap_or((instruction.as_str(), ""));
        let keyword = keyword.to_ascii_uppercase();
        if keyword == "FROM" {
            let image = rest.split_whitespace().next().unwrap_or_default();
            stage = Some(FinalStage {
                from: image.to_owned(),
                ..FinalStage::default()
            });
            continue;
        }
        let Some(stage) = stage.as_mut() else {
            if keyword == "ARG" {
                continue;
            }
            bail!("line {number}: {keyword} before the first FROM");
        };
        let context = || format!("line {number}: {keyword} {rest}");
        match keyword.as_str() {
            "USER" => stage.user = Some(rest.to_owned()),
            "WORKDIR" => stage.workdir = Some(rest.to_owned()),
            "EXPOSE" => stage
                .expose
                .extend(rest.split_whitespace().map(str::to_owned)),
            "ENTRYPOINT" => {
                stage.entrypoint = serde_json::from_str(rest)
                    .with_context(|| format!("{}: only the exec (JSON) form is read", context()))?;
            }
            "ENV" => stage.env.extend(pairs(rest).with_context(context)?),
            "LABEL" => stage.labels.extend(pairs(rest).with_context(context)?),
            "COPY" => stage.copies.push(copy(rest).with_context(context)?),
            _ => {}
        }
    }
    stage.context("no FROM: not a Dockerfile")
}

/// The instructions with their first line numbers: comments and blank lines dropped, lines
/// ending in `\` joined to the next.
fn instructions(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut current: Option<(usize, String)> = None;
    for (index, line) in text.lines().enumerate() {
        let trimmed = line.trim();
        if trimmed.starts_with('#') || (trimmed.is_empty() && current.is_none()) {
            continue;
        }
        let (body, continued) = match trimmed.strip_suffix('\\') {
            Some(body) => (body.trim_end(), true),
            None => (trimmed, false),
        };
        let entry = current.get_or_insert_with(|| (index + 1, String::new()));
        if !entry.1.is_empty() && !body.is_empty() {
            entry.1.push(' ');
        }
        entry.1.push_str(body);
        if !continued {
            out.extend(current.take());
        }
    }
    out.extend(current);
    out
}

/// `KEY=value KEY2="a value"` (the form both ENV and LABEL use here).
fn pairs(text: &str) -> Result<Vec<(String, String)>> {
    words(text)?
        .into_iter()
        .map(|word| {
            let (key, value) = word
                .split_once('=')
                .with_context(|| format!("`{word}` is not KEY=value"))?;
            Ok((key.to_owned(), value.to_owned()))
        })
        .collect()
}

/// Splits on whitespace outside double quotes and removes the quotes.
fn words(text: &str) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut quoted = false;
    let mut in_word = false;
    for c in text.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                in_word = true;
            }
            c if c.is_whitespace() && !quoted => {
                if in_word {
                    out.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            c => {
                word.push(c);
                in_word = true;
            }
        }
    }
    if quoted {
        bail!("unbalanced quote");
    }
    if in_word {
        out.push(word);
    }
    Ok(out)
}

fn copy(text: &str) -> Result<Copy> {
    let mut from = None;
    let mut paths = Vec::new();
    for word in words(text)? {
        if let Some(stage) = word.strip_prefix("--from=") {
            from = Some(stage.to_owned());
        } else if !word.starts_with("--") {
            paths.push(word);
        }
    }
    let dest = paths.pop().context("COPY without a destination")?;
    if paths.is_empty() {
        bail!("COPY without a source");
    }
    Ok(Copy {
        from,
        sources: paths,
        dest,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_last_stage_with_continuations_quotes_and_comments() {
        let stage = parse(
            "ARG BASE=x\nFROM rust AS builder\nUSER 1\nENV A=1\n\n# the image\nFROM ${BASE}\n\
             LABEL a.b=\"two words\" \\\n      c=d\nENV X=1 \\\n    Y=\"2 3\"\n\
             COPY --from=builder /out/ /app/\nCOPY --chown=1:1 site /app/site\n\
             USER 65532:65532\nEXPOSE 3000 8080/tcp\nENTRYPOINT [\"/app/x\", \"run\"]\n",
        )
        .unwrap();
        assert_eq!(stage.from, "${BASE}");
        assert_eq!(stage.user.as_deref(), Some("65532:65532"));
        assert_eq!(stage.entrypoint, ["/app/x", "run"]);
        assert_eq!(stage.expose, ["3000", "8080/tcp"]);
        assert_eq!(stage.env.len(), 2, "{:?}", stage.env);
        assert_eq!(stage.env["Y"], "2 3");
        assert_eq!(stage.labels["a.b"], "two words");
        assert_eq!(stage.labels["c"], "d");
        assert_eq!(stage.copies[0].from.as_deref(), Some("builder"));
        assert!(stage.copies_to("/app/site"));
        assert!(!stage.copies_to("/app/other"));
    }

    #[test]
    fn copies_into_a_folder_count_for_the_file_they_create() {
        let stage = parse("FROM scratch\nCOPY bin/tool cert.pem /usr/\n").unwrap();
        assert!(stage.copies_to("/usr/tool"));
        assert!(stage.copies_to("/usr/cert.pem"));
        assert!(!stage.copies_to("/usr/bin/tool"));
    }

    #[test]
    fn refuses_what_it_cannot_read() {
        assert!(parse("USER 1\n").is_err());
        assert!(parse("FROM x\nENTRYPOINT /bin/sh -c x\n").is_err());
        assert!(parse("FROM x\nENV A=\"1\n").is_err());
        assert!(parse("FROM x\nENV A\n").is_err());
        assert!(parse("FROM x\nCOPY /only\n").is_err());
        assert!(parse("# nothing\n").is_err());
    }
}
