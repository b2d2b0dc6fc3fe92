//! Repository-wide rules, checked as ordinary tests.

#![allow(clippy::unwrap_used)] // Test helpers panic on broken fixtures by design.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

mod common;

use common::repo;

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn crates() -> Vec<PathBuf> {
    let mut crates: Vec<PathBuf> = std::fs::read_dir(repo().join("crates"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("Cargo.toml").exists())
        .collect();
    crates.sort();
    crates
}

#[test]
fn every_crate_has_a_readme() {
    for krate in crates() {
        assert!(
            krate.join("README.md").exists(),
            "{} has no README.md",
            krate.display()
        );
    }
}

#[test]
fn libraries_log_with_tracing_not_print() {
    // A crate without `src/lib.rs` is a binary (`fineface-cli`): it prints its results.
    for krate in crates()
        .into_iter()
        .filter(|c| c.join("src/lib.rs").exists())
    {
        let mut files = Vec::new();
        rust_files(&krate.join("src"), &mut files);
        // Binaries (`src/bin/`) print their results; the libraries log.
        for file in files
            .into_iter()
            .filter(|f| !f.components().any(|c| c.as_os_str() == "bin"))
        {
            let text = std::fs::read_to_string(&file).unwrap();
            for (i, line) in text.lines().enumerate() {
                let code = line.trim_start();
                if code.starts_with("//") {
                    continue;
                }
                for banned in ["println!", "eprintln!", "dbg!("] {
                    assert!(
                        !code.contains(banned),
                        "{}:{}: `{banned}` in a library; use tracing",
                        file.display(),
                        i + 1
                    );
                }
            }
        }
    }
}

/// The names a manifest depends on for its code (not dev- or build-dependencies): the
/// `[dependencies]` table, `[target.'cfg(..)'.dependencies]` tables and
/// `[dependencies.NAME]` tables.
fn dependencies(manifest: &str) -> Vec<String> {
    let mut inside = false;
    let mut names = Vec::new();
    for line in manifest.lines().map(str::trim) {
        if let Some(header) = line.strip_prefix('[') {
            let header = header.trim_end_matches(']');
            inside = header == "dependencies"
                || (header.starts_with("target.") && header.ends_with(".dependencies"));
            if let Some(name) = header.strip_prefix("dependencies.") {
                names.push(name.to_owned());
            }
        } else if inside && !line.is_empty() && !line.starts_with('#') {
            let name = line.split(['=', '.', ' ']).next().unwrap_or_default();
            names.push(name.to_owned());
        }
    }
    names
}

#[test]
fn libraries_leave_command_lines_and_loggers_to_binaries() {
    // Argument parsing, `anyhow` errors and installing a logger belong to the binaries
    // (`fineface-cli`, `xtask`); a library returns typed errors and only emits `tracing`
    // events.
    let binary_only = ["clap", "anyhow", "tracing-subscriber"];
    let mut found = Vec::new();
    for krate in crates()
        .into_iter()
        .filter(|c| c.join("src/lib.rs").exists())
    {
        let manifest = std::fs::read_to_string(krate.join("Cargo.toml")).unwrap();
        for name in dependencies(&manifest) {
            if binary_only.contains(&name.as_str()) {
                found.push(format!("{}: {name}", krate.display()));
            }
        }
    }
    assert!(
        found.is_empty(),
        "libraries depending on a binary's crates:\n{}",
        found.join("\n")
    );
    let manifest = "[package]\nname = \"x\"\n[dependencies]\n# clap: no\nanyhow.workspace = true\n\
                    burn = { workspace = true }\n[dev-dependencies]\nclap = \"4\"\n\
                    [target.'cfg(unix)'.dependencies]\nlibc = \"0.2\"\n[build-dependencies]\n\
                    cc = \"1\"\n[dependencies.tracing-subscriber]\nversion = \"0.3\"\n";
    assert_eq!(
        dependencies(manifest),
        ["anyhow", "burn", "libc", "tracing-subscriber"]
    );
}

#[test]
fn the_readme_draws_the_crate_graph_the_manifests_declare() {
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    let graph = readme
        .split("## Architecture\n```text\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("README.md has an Architecture section with a crate graph");
    let mut wrong = Vec::new();
    for krate in crates() {
        let name = krate.file_name().unwrap().to_string_lossy().into_owned();
        if !graph.contains(&name) {
            wrong.push(format!("{name} is not drawn"));
        }
        let manifest = std::fs::read_to_string(krate.join("Cargo.toml")).unwrap();
        let mut declared: Vec<String> = dependencies(&manifest)
            .into_iter()
            .filter(|d| d.starts_with("fineface-"))
            .collect();
        declared.sort();
        // `name <- fineface-a, -b`: what the line says `name` depends on.
        let Some(line) = graph
            .lines()
            .find(|l| l.split_whitespace().next() == Some(name.as_str()) && l.contains("<-"))
        else {
            wrong.push(format!("{name} has no `{name} <- ...` line"));
            continue;
        };
        let listed = line
            .split("<-")
            .nth(1)
            .unwrap()
            .split(['(', ';'])
            .next()
            .unwrap();
        let mut drawn: Vec<String> = listed
            .split(',')
            .map(|d| d.trim())
            .filter(|d| !d.is_empty())
            .map(|d| match d.strip_prefix('-') {
                Some(short) => format!("fineface-{short}"),
                None => d.to_owned(),
            })
            .collect();
        drawn.sort();
        if drawn != declared {
            wrong.push(format!(
                "{name}: drawn {drawn:?}, Cargo.toml has {declared:?}"
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "README.md's crate graph:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn burn_is_pinned_exactly() {
    let manifest = std::fs::read_to_string(repo().join("Cargo.toml")).unwrap();
    for krate in ["burn", "burn-dataset", "burn-store"] {
        let line = manifest
            .lines()
            .find(|l| l.starts_with(&format!("{krate} = ")))
            .unwrap_or_else(|| panic!("{krate} missing from [workspace.dependencies]"));
        assert!(
            line.contains("\"=0.21.0\""),
            "{krate} is not pinned to =0.21.0: {line}"
        );
    }
}

#[test]
fn no_dataset_files_are_committed() {
    // Research-only licences: face data is read from ../shared/data at run time.
    let output = std::process::Command::new("git")
        .args(["ls-files"])
        .current_dir(repo())
        .output();
    let output = match output {
        Ok(output) if output.status.success() => output,
        Ok(output) => panic!(
            "`git ls-files` failed ({}): {}; this test needs a git checkout",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        ),
        Err(error) => panic!("cannot run `git ls-files` ({error}); this test needs git on PATH"),
    };
    let files = String::from_utf8_lossy(&output.stdout);
    for file in files.lines() {
        let lower = file.to_lowercase();
        assert!(
            !(lower.ends_with(".chip.jpg")
                || lower.contains("img_align_celeba/")
                || lower.ends_with("fairface_label_train.csv")
                || lower.ends_with("fairface_label_val.csv")),
            "{file} looks like a copy of a research-only dataset"
        );
    }
}

#[test]
fn ci_runs_the_readme_test_command() {
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    let ci = std::fs::read_to_string(repo().join(".ci/run")).unwrap();
    let test_line = readme
        .lines()
        .take(6)
        .find(|l| l.ends_with("# tests"))
        .expect("the README's first lines give the test command, marked `# tests`");
    let command = test_line.trim_end_matches("# tests").trim();
    assert!(
        ci.lines().any(|l| l.trim() == command),
        ".ci/run does not run the README's test command `{command}`"
    );
}

/// Every crate's `src/`, the command line's included.
fn source_roots() -> Vec<PathBuf> {
    let mut roots: Vec<PathBuf> = crates().into_iter().map(|c| c.join("src")).collect();
    roots.push(repo().join("xtask/src"));
    roots
}

/// The module path of a file under `src/` (`a/b.rs` and `a/b/mod.rs` are `a::b`; `lib.rs` and
/// `main.rs` are the crate root, `""`), or `None` for binaries under `src/bin/`, which are
/// crates of their own.
fn module_path(src: &Path, file: &Path) -> Option<String> {
    let relative = file.strip_prefix(src).ok()?;
    let mut parts: Vec<String> = relative
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    if parts.first().is_some_and(|p| p == "bin") {
        return None;
    }
    let last = parts.pop()?;
    let stem = last.trim_end_matches(".rs");
    let is_root = parts.is_empty() && (stem == "lib" || stem == "main");
    if stem != "mod" && !is_root {
        parts.push(stem.to_owned());
    }
    Some(parts.join("::"))
}

/// Rust source with comments removed and, when `blank_strings`, the contents of string and
/// character literals replaced by spaces, so that only code is left to search.
fn strip_comments(text: &str, blank_strings: bool) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < chars.len() {
                if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
            out.push(' ');
        } else if c == 'r'
            && matches!(next, Some('#' | '"'))
            && !chars[..i]
                .last()
                .is_some_and(|p| p.is_alphanumeric() || *p == '_')
        {
            // A raw string `r#"..."#`: it ends at a quote followed by as many hashes.
            let hashes = chars[i + 1..].iter().take_while(|&&h| h == '#').count();
            if chars.get(i + 1 + hashes) != Some(&'"') {
                out.push(c);
                i += 1;
                continue;
            }
            let body = i + 2 + hashes;
            let mut end = body;
            while end < chars.len()
                && !(chars[end] == '"'
                    && chars[end + 1..].iter().take_while(|&&h| h == '#').count() >= hashes)
            {
                end += 1;
            }
            let close = (end + 1 + hashes).min(chars.len());
            for &ch in &chars[i..close] {
                out.push(if blank_strings && ch != '\n' { ' ' } else { ch });
            }
            i = close;
        } else if c == '"' {
            let mut end = i + 1;
            while end < chars.len() && chars[end] != '"' {
                end += if chars[end] == '\\' { 2 } else { 1 };
            }
            let close = (end + 1).min(chars.len());
            for &ch in &chars[i..close] {
                out.push(if blank_strings && ch != '\n' { ' ' } else { ch });
            }
            i = close;
        } else if c == '\'' {
            // A character literal (`'x'`, `'\n'`, `'"'`) or a lifetime (`'a`).
            let close = if next == Some('\\') {
                // The escaped character itself may be a quote: `'\''`.
                chars
                    .get(i + 3..)
                    .and_then(|rest| rest.iter().position(|&q| q == '\''))
                    .map(|p| i + 3 + p + 1)
            } else if chars.get(i + 2) == Some(&'\'') {
                Some(i + 3)
            } else {
                None
            };
            match close {
                Some(close) => {
                    for &ch in &chars[i..close] {
                        out.push(if blank_strings { ' ' } else { ch });
                    }
                    i = close;
                }
                None => {
                    out.push(c);
                    i += 1;
                }
            }
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

/// The paths named after each `keyword` (`crate::`, `super::`) in `code`, with
/// `use crate::{a::X, b::{Y, Z}}` groups expanded: `["a::X", "b::Y", "b::Z"]`. For
/// `super::`, repeated `super::super::` are kept at the front of the path.
fn paths_after(code: &str, keyword: &str) -> Vec<String> {
    /// Parses one use tree at `rest` (after the keyword or a group's `{`/`,`) into `out`,
    /// prefixed by `prefix`; returns what follows it.
    fn tree<'a>(rest: &'a str, prefix: &str, out: &mut Vec<String>) -> &'a str {
        let rest = rest.trim_start();
        if let Some(group) = rest.strip_prefix('{') {
            let mut rest = group;
            loop {
                rest = tree(rest, prefix, out).trim_start();
                if let Some(more) = rest.strip_prefix(',') {
                    rest = more;
                    if let Some(done) = rest.trim_start().strip_prefix('}') {
                        return done;
                    }
                } else {
                    return rest.strip_prefix('}').unwrap_or(rest);
                }
            }
        }
        let end = rest
            .find(|c: char| !(c.is_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        if end == 0 {
            if !prefix.is_empty() {
                out.push(prefix.to_owned());
            }
            return rest;
        }
        let path = if prefix.is_empty() {
            rest[..end].to_owned()
        } else {
            format!("{prefix}::{}", &rest[..end])
        };
        let after = &rest[end..];
        match after.trim_start().strip_prefix("::") {
            Some(more) => tree(more, &path, out),
            None => {
                out.push(path);
                // A rename, `X as Y`, ends the tree as `X` does.
                match after.trim_start().strip_prefix("as ") {
                    Some(renamed) => renamed
                        .trim_start()
                        .trim_start_matches(|c: char| c.is_alphanumeric() || c == '_'),
                    None => after,
                }
            }
        }
    }
    let mut out = Vec::new();
    let mut search = 0;
    while let Some(found) = code[search..].find(keyword) {
        let at = search + found;
        search = at + keyword.len();
        let before = code[..at].chars().next_back();
        // `my_crate::`, and the second `super::` of `super::super::`, are not a start.
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
            continue;
        }
        // Go on after the tree: a group's inner `super::` belongs to it.
        let rest = tree(&code[search..], "", &mut out);
        search = code.len() - rest.len();
    }
    out
}

/// The paths named after each `crate::` in `code` (see [`paths_after`]).
fn crate_paths(code: &str) -> Vec<String> {
    paths_after(code, "crate::")
}

/// `text` with every item under `#[cfg(test)]` blanked (its lines kept, empty, so that line
/// numbers stay): from the attribute to the item's closing brace at the attribute's
/// indentation, or to its `;` (`mod tests;`). Code after a test item is kept.
fn outside_tests(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let mut kept: Vec<&str> = Vec::with_capacity(lines.len());
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        if line.trim() != "#[cfg(test)]" {
            kept.push(line);
            i += 1;
            continue;
        }
        let indent = &line[..line.len() - line.trim_start().len()];
        let closing = format!("{indent}}}");
        // The item's first line, past any other attributes.
        let first = (i + 1..lines.len())
            .find(|&j| !lines[j].trim_start().starts_with("#["))
            .unwrap_or(lines.len() - 1);
        let head = lines[first].trim_end();
        let balanced = head.matches('{').count() == head.matches('}').count();
        let end = if head.ends_with(';') || (balanced && head.ends_with('}')) {
            first
        } else {
            (first + 1..lines.len())
                .find(|&j| lines[j] == closing)
                .unwrap_or(lines.len() - 1)
        };
        kept.extend(std::iter::repeat_n("", end - i + 1));
        i = end + 1;
    }
    kept.join("\n")
}

/// The crate-relative paths that `code` of `module` names through `super::`, resolved
/// (`super::nodes::X` in `parallel::hub` is `parallel::nodes::X`). Test items are left out:
/// a test module's `super::` is its own file.
fn super_paths(code: &str, module: &str) -> Vec<String> {
    let code = outside_tests(code);
    paths_after(&code, "super::")
        .into_iter()
        .filter_map(|path| resolve_super(&format!("super::{path}"), module))
        .collect()
}

/// `path` (`super::x::Y`, `super::super::Z`) as written in `module`, crate-relative; `None`
/// when it climbs above the crate root.
fn resolve_super(path: &str, module: &str) -> Option<String> {
    let mut base: Vec<&str> = module.split("::").filter(|p| !p.is_empty()).collect();
    let mut segments: Vec<&str> = path.split("::").collect();
    while segments.first() == Some(&"super") {
        segments.remove(0);
        base.pop()?;
    }
    base.extend(segments);
    Some(base.join("::"))
}

/// The longest module of `modules` that `path` starts with, if any but the root.
fn module_of<'m>(path: &str, modules: &'m BTreeSet<String>) -> Option<&'m String> {
    let segments: Vec<&str> = path.split("::").collect();
    (1..=segments.len())
        .rev()
        .map(|n| segments[..n].join("::"))
        .find_map(|prefix| modules.get(&prefix))
}

/// What each module re-exports, `(module, name) -> crate-relative path`: `pub use hub::L;`
/// in `parallel/mod.rs` gives `("parallel", "L") -> "parallel::hub::L"`; `lib.rs` is module
/// `""`. External paths (`pub use burn::X`) are left out.
fn reexports(
    files: &[(String, PathBuf)],
    modules: &BTreeSet<String>,
) -> BTreeMap<(String, String), String> {
    let mut found = BTreeMap::new();
    for (module, file) in files {
        let code = outside_tests(&strip_comments(
            &std::fs::read_to_string(file).unwrap(),
            true,
        ));
        for statement in code.split(';') {
            let statement = statement.trim();
            let Some(tree) = ["pub use ", "pub(crate) use "]
                .iter()
                .find_map(|p| statement.rsplit_once(p).map(|(_, t)| t))
            else {
                continue;
            };
            for path in paths_after(&format!("use {tree}"), "use ") {
                let resolved = if let Some(rest) = path.strip_prefix("crate::") {
                    rest.to_owned()
                } else if let Some(rest) = path.strip_prefix("self::") {
                    join(module, rest)
                } else if path.starts_with("super::") {
                    // Written in `module`'s own file (its `mod.rs`).
                    match resolve_super(&path, module) {
                        Some(p) => p,
                        None => continue,
                    }
                } else {
                    join(module, &path)
                };
                if module_of(&resolved, modules).is_none() {
                    continue;
                }
                let name = path.rsplit("::").next().unwrap_or(&path).to_owned();
                found.insert((module.clone(), name), resolved);
            }
        }
    }
    found
}

/// `a::b` from `a` and `b` (`b` alone under the root, `""`).
fn join(module: &str, rest: &str) -> String {
    if module.is_empty() {
        rest.to_owned()
    } else {
        format!("{module}::{rest}")
    }
}

/// The module `path` names an item of, through re-exports (`crate::X` re-exported by
/// `lib.rs` from `sample` is `sample`'s); `None` for the root's own items.
fn resolve(
    path: &str,
    modules: &BTreeSet<String>,
    reexports: &BTreeMap<(String, String), String>,
) -> Option<String> {
    let mut path = path.to_owned();
    // A re-export of a re-export, a few levels at most.
    for _ in 0..8 {
        let module = module_of(&path, modules).cloned().unwrap_or_default();
        let rest = if module.is_empty() {
            path.as_str()
        } else {
            path[module.len()..].trim_start_matches("::")
        };
        let next = rest.split("::").next().unwrap_or_default();
        // A folder's re-exports (`crate::parallel::X`), and the crate root's (`crate::X`).
        match reexports.get(&(module.clone(), next.to_owned())) {
            Some(target) if *target != path => {
                let after = rest[next.len()..].trim_start_matches("::");
                path = if after.is_empty() {
                    target.clone()
                } else {
                    format!("{target}::{after}")
                };
            }
            _ => return (!module.is_empty()).then_some(module),
        }
    }
    module_of(&path, modules).cloned()
}

/// Which module imports which in one crate's `src/`: (importer, imported) -> one example,
/// `"file uses crate::path"`. Paths through `crate::` and `super::` count, followed through
/// re-exports to the module that defines the item; a module's re-exports of its own
/// children (`pub use child::X` in `mod.rs`) are no import of its own. Test items count for
/// neither: a test may reach into any module without making the module graph circular.
fn module_imports(src: &Path) -> BTreeMap<(String, String), String> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let files: Vec<(String, PathBuf)> = files
        .into_iter()
        .filter_map(|f| module_path(src, &f).map(|m| (m, f)))
        .collect();
    let modules: BTreeSet<String> = files.iter().map(|(m, _)| m.clone()).collect();
    let reexports = reexports(&files, &modules);
    let mut edges = BTreeMap::new();
    for (module, file) in &files {
        let code = strip_comments(&std::fs::read_to_string(file).unwrap(), false);
        let named = crate_paths(&outside_tests(&code))
            .into_iter()
            .map(|p| (p.clone(), format!("crate::{p}")))
            .chain(
                super_paths(&code, module)
                    .into_iter()
                    .map(|p| (p.clone(), format!("super:: ({p})"))),
            );
        for (path, spelled) in named {
            let Some(target) = resolve(&path, &modules, &reexports) else {
                continue;
            };
            if target == *module {
                continue;
            }
            let name = file.strip_prefix(repo()).unwrap_or(file).display();
            edges
                .entry((module.clone(), target.clone()))
                .or_insert_with(|| format!("{name} uses {spelled}"));
        }
    }
    edges
}

/// `module` cut to its first `depth` segments.
fn at_depth(module: &str, depth: usize) -> String {
    module
        .split("::")
        .take(depth)
        .collect::<Vec<_>>()
        .join("::")
}

/// Whether `a` is `b`'s ancestor or the reverse (a child using its parent's re-exports is
/// no circle).
fn nested(a: &str, b: &str) -> bool {
    let under = |child: &str, parent: &str| child.starts_with(&format!("{parent}::"));
    under(a, b) || under(b, a)
}

/// For one crate's `src/`, every import circle of any length, at every depth of the module
/// tree (files, and folders taken whole: `iteration -> parallel -> iteration` is one even
/// when the files involved differ), each as `"a -> b -> c -> a (a.rs uses crate::b::X;
/// ...)"`, each set of modules once.
fn import_cycles(src: &Path) -> Vec<String> {
    let edges = module_imports(src);
    let deepest = edges
        .keys()
        .flat_map(|(a, b)| [a, b])
        .map(|m| m.split("::").count())
        .max()
        .unwrap_or(0);
    // Deepest first: a circle between files is named once, not again as the circle between
    // their folders it also makes.
    let mut found: Vec<Vec<String>> = Vec::new();
    let mut cycles = Vec::new();
    for depth in (1..=deepest).rev() {
        let mut graph: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
        for ((a, b), why) in &edges {
            let (a, b) = (at_depth(a, depth), at_depth(b, depth));
            if a == b || nested(&a, &b) {
                continue;
            }
            graph
                .entry(a)
                .or_default()
                .entry(b)
                .or_insert_with(|| why.clone());
        }
        for start in graph.keys() {
            let Some(path) = shortest_cycle(&graph, start) else {
                continue;
            };
            let set: BTreeSet<String> = path.iter().cloned().collect();
            let known = found.iter().any(|cycle| {
                let collapsed: BTreeSet<String> =
                    cycle.iter().map(|m| at_depth(m, depth)).collect();
                collapsed == set
            });
            if known {
                continue;
            }
            found.push(path.clone());
            let why: Vec<&str> = path
                .iter()
                .zip(path.iter().cycle().skip(1))
                .map(|(a, b)| graph[a][b].as_str())
                .collect();
            let mut names = path.clone();
            names.push(path[0].clone());
            cycles.push(format!("{} ({})", names.join(" -> "), why.join("; ")));
        }
    }
    cycles
}

/// The shortest path from `start` back to itself in `graph`, as the modules on it (starting
/// with `start`), if any (breadth first).
fn shortest_cycle(
    graph: &BTreeMap<String, BTreeMap<String, String>>,
    start: &String,
) -> Option<Vec<String>> {
    let mut came_from: BTreeMap<&String, &String> = BTreeMap::new();
    let mut queue = std::collections::VecDeque::from([start]);
    while let Some(at) = queue.pop_front() {
        for next in graph.get(at).into_iter().flat_map(BTreeMap::keys) {
            if next == start {
                let mut path = vec![at.clone()];
                let mut step = at;
                while step != start {
                    step = came_from[step];
                    path.push(step.clone());
                }
                path.reverse();
                return Some(path);
            }
            if !came_from.contains_key(next) {
                came_from.insert(next, at);
                queue.push_back(next);
            }
        }
    }
    None
}

#[test]
fn no_import_circles() {
    let mut circles = Vec::new();
    for src in source_roots() {
        for cycle in import_cycles(&src) {
            let krate = src.parent().unwrap().strip_prefix(repo()).unwrap();
            circles.push(format!("{}: {cycle}", krate.display()));
        }
    }
    assert!(
        circles.is_empty(),
        "modules that import each other, directly or around a circle (move what they share \
         into a module of its own, or pass it in):\n{}",
        circles.join("\n")
    );
}

#[test]
fn import_scanner_expands_groups_and_skips_comments_and_strings() {
    let code = strip_comments(
        "use crate::{a::X as AX, b::{c::Y, Z}};\n// crate::commented::Out\nlet s = \"crate::quoted\"; \
         let c = '\"'; fn f<'a>(x: &'a crate::d::W) {}\n#[serde(with = \"crate::e\")]\n\
         let r = r#\"crate::raw\"#; my_crate::not::This; /* crate::block */",
        false,
    );
    assert_eq!(
        crate_paths(&code),
        [
            "a::X", "b::c::Y", "b::Z", "quoted", "d::W", "e", "raw", // strings kept here
        ]
    );
    let blanked = strip_comments("let s = \"unsafe\"; // unsafe\nunsafe { x }", true);
    assert_eq!(blanked.matches("unsafe").count(), 1, "{blanked}");
    let modules: BTreeSet<String> = ["", "a", "a::b"].iter().map(|s| s.to_string()).collect();
    assert_eq!(
        module_of("a::b::C", &modules).map(String::as_str),
        Some("a::b")
    );
    assert_eq!(module_of("a::C", &modules).map(String::as_str), Some("a"));
    assert_eq!(module_of("Root", &modules), None);
    let src = Path::new("/x/src");
    assert_eq!(
        module_path(src, Path::new("/x/src/lib.rs")).as_deref(),
        Some("")
    );
    assert_eq!(
        module_path(src, Path::new("/x/src/a/mod.rs")).as_deref(),
        Some("a")
    );
    assert_eq!(
        module_path(src, Path::new("/x/src/a/b.rs")).as_deref(),
        Some("a::b")
    );
    assert_eq!(module_path(src, Path::new("/x/src/bin/tool.rs")), None);
    let code = "use super::{a::X, super::b::Y};\nuse super::super::c;\nfn f() { super::d(); }";
    assert_eq!(
        super_paths(code, "p::q::r"),
        ["p::q::a::X", "p::b::Y", "p::c", "p::q::d"]
    );
    assert!(super_paths("use super::super::X;", "top").is_empty());
    // As Rust reads it: `super` of a folder's `mod.rs` (module `p`) is the crate root.
    assert_eq!(resolve_super("super::X", "p").as_deref(), Some("X"));
    assert_eq!(
        resolve_super("super::super::X", "p::q").as_deref(),
        Some("X")
    );
    assert_eq!(resolve_super("super::X", ""), None);
}

#[test]
fn import_circles_are_found_and_named() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    std::fs::create_dir_all(src.join("nested")).unwrap();
    std::fs::create_dir_all(src.join("ring")).unwrap();
    let write = |file: &str, text: &str| std::fs::write(src.join(file), text).unwrap();
    write("lib.rs", "mod a;\nmod nested;\nmod ring;\npub use a::X;\n");
    // Two modules importing each other.
    write("a.rs", "use crate::nested::inner::Y;\n");
    write(
        "nested/mod.rs",
        "mod inner;\nmod other;\npub use inner::Y;\n",
    );
    write("nested/inner.rs", "use crate::{X as Root, a::X};\n");
    // Three files around a circle through `super::`; the test module's `super::` is its own.
    write(
        "ring/mod.rs",
        "mod hub;\nmod nodes;\nmod sync;\npub use hub::L;\n",
    );
    write(
        "ring/hub.rs",
        "use super::nodes::N;\n#[cfg(test)]\nmod t { use super::*; }\n",
    );
    write("ring/nodes.rs", "use super::{sync::P};\n");
    // Through the folder's re-export of hub's item: still an import of hub.
    write("ring/sync.rs", "use super::L;\n");
    let found = import_cycles(&src);
    assert_eq!(found.len(), 2, "{found:?}");
    assert!(
        found[0].starts_with("a -> nested::inner -> a ("),
        "{found:?}"
    );
    assert!(
        found[1].starts_with("ring::hub -> ring::nodes -> ring::sync -> ring::hub ("),
        "{found:?}"
    );
    assert!(found[1].contains("super:: (ring::nodes::N)"), "{found:?}");
    // Folders taken whole: `a` and `nested` meet only at depth 1, through different files.
    write("nested/inner.rs", "// use crate::a::X;\n");
    write("nested/other.rs", "use crate::a::X;\n");
    write("ring/sync.rs", "// use super::L;\n");
    let found = import_cycles(&src);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].starts_with("a -> nested -> a ("), "{found:?}");
    write("a.rs", "// use crate::nested::inner::Y;\n");
    assert!(import_cycles(&src).is_empty());
    // Through the crate root's re-exports: `crate::Y` is nested::inner's (via nested's own
    // re-export), `crate::X` is a's.
    write(
        "lib.rs",
        "mod a;\nmod nested;\nmod ring;\npub use a::X;\npub use nested::Y;\n",
    );
    write("a.rs", "use crate::Y;\n");
    write("nested/other.rs", "fn f(x: crate::X) {}\n");
    let found = import_cycles(&src);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].starts_with("a -> nested -> a ("), "{found:?}");
    assert!(found[0].contains("uses crate::Y"), "{found:?}");
}

/// Every `static` in the code of `files` that holds state, as `"file:line: static NAME: TYPE"`.
/// Allowed: `Mutex<()>`, a turn at something process-global that another library owns (a
/// panic hook, a backend's generator, burn-collective's session), and `thread_local!`
/// scratch buffers; what a run owns (links, failures, caches of results) is a value of the
/// run.
fn state_statics(files: &[PathBuf]) -> Vec<String> {
    let mut found = Vec::new();
    for file in files {
        let code = outside_tests(&strip_comments(
            &std::fs::read_to_string(file).unwrap(),
            true,
        ));
        let mut in_thread_local = false;
        for (i, line) in code.lines().enumerate() {
            let line = line.trim();
            let opens = line.matches('{').count();
            let closes = line.matches('}').count();
            if line.starts_with("thread_local!") {
                // Until its braces close (on this line for a one-line `thread_local!`).
                in_thread_local = opens > closes;
                continue;
            }
            // `&'static str` in a type is no declaration.
            let unlifetimed = line.replace("'static", "'_");
            let Some(at) = unlifetimed.find("static ") else {
                if in_thread_local && closes > opens {
                    in_thread_local = false;
                }
                continue;
            };
            let line = unlifetimed.as_str();
            let before = &line[..at];
            let declared = before.is_empty() || before.ends_with("pub ") || before.ends_with(") ");
            let Some((_, ty)) = line[at..].split_once(':') else {
                continue;
            };
            let ty: String = ty
                .split('=')
                .next()
                .unwrap_or(ty)
                .split_whitespace()
                .collect();
            let turn = ty.ends_with("Mutex<()>");
            if declared && !turn && !in_thread_local {
                found.push(format!("{}:{}: {line}", file.display(), i + 1));
            }
            if in_thread_local && closes > opens {
                in_thread_local = false;
            }
        }
    }
    found
}

#[test]
fn libraries_keep_no_state_in_statics() {
    let mut files = Vec::new();
    for krate in crates() {
        rust_files(&krate.join("src"), &mut files);
    }
    let found = state_statics(&files);
    assert!(
        found.is_empty(),
        "process-global state in a library (make it a value the run owns and passes on):\n{}",
        found.join("\n")
    );
}

#[test]
fn the_statics_scanner_tells_turns_from_state() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a.rs");
    std::fs::write(
        &file,
        "static TURN: Mutex<()> = Mutex::new(());\n\
         static LINK: Mutex<Option<Link>> = Mutex::new(None);\n\
         pub(crate) static FAILURE: OnceLock<String> = OnceLock::new();\n\
         thread_local! {\n    static SCRATCH: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };\n}\n\
         thread_local! { static ONE: Cell<u8> = const { Cell::new(0) }; }\n\
         static NAMES: Mutex<Vec<&'static str>> = Mutex::new(Vec::new());\n\
         fn f(x: &'static str) {} // static S: u8\n\
         const NAME: &str = \"static X: u8\";\n\
         #[cfg(test)]\nmod tests { static SEEN: AtomicUsize = AtomicUsize::new(0); }\n\
         static AFTER: OnceLock<u8> = OnceLock::new();\n",
    )
    .unwrap();
    let found = state_statics(&[file]);
    let lines: Vec<&str> = found
        .iter()
        .map(|f| f.rsplit_once(".rs:").map_or("", |(_, l)| l))
        .collect();
    assert_eq!(
        lines,
        [
            "2: static LINK: Mutex<Option<Link>> = Mutex::new(None);",
            "3: pub(crate) static FAILURE: OnceLock<String> = OnceLock::new();",
            "8: static NAMES: Mutex<Vec<&'_ str>> = Mutex::new(Vec::new());",
            "13: static AFTER: OnceLock<u8> = OnceLock::new();",
        ],
        "{found:?}"
    );
}

/// What follows `fn ` in a line that declares a function, past its qualifiers (`pub`,
/// `pub(crate)`, `pub(in path)`, `const`, `async`, `unsafe`, `extern "C"`, `default`).
fn fn_signature(code: &str) -> Option<&str> {
    let mut rest = code;
    loop {
        if let Some(signature) = rest.strip_prefix("fn ") {
            return Some(signature);
        }
        let word_end = if rest.starts_with("pub(") {
            rest.find(')')? + 1
        } else if let Some(quoted) = rest.strip_prefix('"') {
            quoted.find('"')? + 2
        } else {
            rest.find(' ')?
        };
        let word = &rest[..word_end];
        let qualifier = word.starts_with("pub")
            || word.starts_with('"')
            || ["const", "async", "unsafe", "extern", "default"].contains(&word);
        if !qualifier {
            return None;
        }
        rest = rest[word_end..].trim_start();
    }
}

/// The longest a function may be, in lines from its `fn` to its closing brace, without a
/// comment saying why (`// long function: ...` just above it).
const LONGEST_FUNCTION: usize = 80;

/// Every function of `text` (outside `#[cfg(test)]`, rustfmt's layout) longer than
/// [`LONGEST_FUNCTION`] lines with no reason given, as `(line, name, lines)`.
fn long_functions(text: &str) -> Vec<(usize, String, usize)> {
    let text = outside_tests(text);
    let lines: Vec<&str> = text.lines().collect();
    let end = lines.len();
    let mut found = Vec::new();
    for i in 0..end {
        let line = lines[i];
        let code = line.trim_start();
        let indent = &line[..line.len() - code.len()];
        let Some(signature) = fn_signature(code) else {
            continue;
        };
        let name: String = signature
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        // The body opens on the signature's last line; a declaration (`;`) has none.
        let Some(open) = (i..end).find(|&j| {
            let l = lines[j].trim_end();
            l.ends_with('{') || l.ends_with(';')
        }) else {
            continue;
        };
        if lines[open].trim_end().ends_with(';') {
            continue;
        }
        let closing = format!("{indent}}}");
        let Some(close) = (open + 1..end).find(|&j| lines[j] == closing) else {
            continue;
        };
        let length = close - i + 1;
        let reason = lines[..i]
            .iter()
            .rev()
            .take_while(|l| {
                let t = l.trim_start();
                t.starts_with("//") || t.starts_with("#[")
            })
            .any(|l| l.trim_start().starts_with("// long function:"));
        if length > LONGEST_FUNCTION && !reason {
            found.push((i + 1, name, length));
        }
    }
    found
}

#[test]
fn functions_are_short_enough_to_read_at_once() {
    let mut found = Vec::new();
    for src in source_roots() {
        let mut files = Vec::new();
        rust_files(&src, &mut files);
        for file in files {
            let text = std::fs::read_to_string(&file).unwrap();
            for (line, name, length) in long_functions(&text) {
                found.push(format!(
                    "{}:{line}: {name} ({length} lines)",
                    file.display()
                ));
            }
        }
    }
    assert!(
        found.is_empty(),
        "functions over {LONGEST_FUNCTION} lines (split them, or say why just above with \
         `// long function: ...`):\n{}",
        found.join("\n")
    );
}

#[test]
fn the_function_scanner_measures_bodies_and_takes_reasons() {
    let body = |n: usize, indent: &str| format!("{indent}    let x = 1;\n").repeat(n);
    let text = [
        format!(
            "pub(crate) fn long(\n    a: u8,\n) -> u8 {{\n{}}}\n",
            body(79, "")
        ),
        format!("fn short() {{\n{}}}\n", body(10, "")),
        format!(
            "trait T {{\n    fn declared(&self);\n    fn provided(&self) {{\n{}    }}\n}}\n",
            body(90, "    ")
        ),
        format!(
            "/// Docs.\n// long function: one table, row by row.\n#[allow(x)]\n\
             fn explained() {{\n{}}}\n",
            body(100, "")
        ),
        format!("#[cfg(test)]\nfn in_tests() {{\n{}}}\n", body(100, "")),
        format!(
            "pub(in crate::a) extern \"C\" fn after_tests() {{\n{}}}\n",
            body(85, "")
        ),
    ]
    .concat();
    let found = long_functions(&text);
    let found: Vec<(&str, usize)> = found.iter().map(|(_, n, l)| (n.as_str(), *l)).collect();
    assert_eq!(found, [("long", 83), ("provided", 92), ("after_tests", 87)]);
    assert_eq!(
        fn_signature("pub(crate) const unsafe fn f() {"),
        Some("f() {")
    );
    assert_eq!(fn_signature("let fn_x = 1;"), None);
    assert_eq!(fn_signature("// fn commented"), None);
}

/// Every `file:line` under `dir` whose code (comments and strings aside) has the `unsafe`
/// keyword.
fn unsafe_places(dir: &Path) -> Vec<String> {
    let mut files = Vec::new();
    rust_files(dir, &mut files);
    files.sort();
    let mut found = Vec::new();
    for file in files {
        let code = strip_comments(&std::fs::read_to_string(&file).unwrap(), true);
        for (i, line) in code.lines().enumerate() {
            let has_token = line.match_indices("unsafe").any(|(at, _)| {
                let ident = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
                !ident(line[..at].chars().next_back())
                    && !ident(line[at + "unsafe".len()..].chars().next())
            });
            if has_token {
                let name = file.strip_prefix(repo()).unwrap_or(&file).display();
                found.push(format!("{name}:{}", i + 1));
            }
        }
    }
    found
}

#[test]
fn fineface_model_has_no_unsafe_code() {
    // Unsafe kernels belong in their own crate; the model crate forbids unsafe code.
    let found = unsafe_places(&repo().join("crates/fineface-model"));
    assert!(
        found.is_empty(),
        "`unsafe` in crates/fineface-model ({} places; move such code to the kernels crate):\n{}",
        found.len(),
        found.join("\n")
    );
}

#[test]
fn xtask_has_no_unsafe_code() {
    // The workspace denies unsafe code; xtask has no reason to allow it anywhere.
    let found = unsafe_places(&repo().join("xtask/src"));
    assert!(found.is_empty(), "`unsafe` in xtask:\n{}", found.join("\n"));
}

#[test]
fn unsafe_scanner_sees_only_the_keyword_in_code() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("a.rs"),
        "#![forbid(unsafe_code)]\n// unsafe\nlet s = \"unsafe\";\n/* unsafe */ fn f() {}\nlet x = unsafe { 1 };\n",
    )
    .unwrap();
    let found = unsafe_places(dir.path());
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].ends_with("a.rs:5"), "{found:?}");
}

/// The `.rs` and `.md` files of the repository's own text (not `target/` or data).
fn text_files() -> Vec<PathBuf> {
    let mut files = Vec::new();
    for dir in ["crates", "xtask"] {
        rust_files(&repo().join(dir), &mut files);
    }
    let mut folders = vec![repo().join("docs"), repo().join("crates")];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() && !path.ends_with("target") {
                folders.push(path);
            } else if path.extension().is_some_and(|e| e == "md") {
                files.push(path);
            }
        }
    }
    files.push(repo().join("README.md"));
    files
}

/// Repository paths named in `text` (`docs/fairness.md`, `crates/x/tests/y.rs`,
/// `tools/z.py`), except the shared folder's (`shared/docs/...`).
fn named_paths(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    for prefix in ["docs/", "crates/", "tools/", "xtask/", "configs/"] {
        for (at, _) in text.match_indices(prefix) {
            let before = text[..at].chars().next_back();
            if text[..at].ends_with("shared/")
                || before.is_some_and(|c| c.is_ascii_alphanumeric() || "_-./".contains(c))
            {
                continue;
            }
            let name: String = text[at..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || "_./-".contains(*c))
                .collect();
            let name = name.trim_end_matches('.');
            if [".md", ".rs", ".py", ".toml"]
                .iter()
                .any(|e| name.ends_with(e))
            {
                found.push(name.to_owned());
            }
        }
    }
    found
}

/// Relative link targets of markdown `text` (`[a](../x.md#part)` gives `../x.md`).
fn relative_links(text: &str) -> Vec<String> {
    text.match_indices("](")
        .filter_map(|(at, _)| {
            let rest = &text[at + 2..];
            let target = rest[..rest.find(')')?].split('#').next()?;
            let external = target.contains("://") || target.starts_with("mailto:");
            (!target.is_empty() && !external).then(|| target.to_owned())
        })
        .collect()
}

#[test]
fn every_document_the_product_names_ships_with_it() {
    let mut missing = Vec::new();
    // This file names made-up paths to test the scanners.
    for file in text_files()
        .into_iter()
        .filter(|f| !f.ends_with("xtask/tests/tidy.rs"))
    {
        let text = std::fs::read_to_string(&file).unwrap();
        for path in named_paths(&text) {
            if !repo().join(&path).is_file() {
                missing.push(format!("{}: names {path}", file.display()));
            }
        }
        if file.extension().is_some_and(|e| e == "md") {
            for link in relative_links(&text) {
                if !file.parent().unwrap().join(&link).exists() {
                    missing.push(format!("{}: links {link}", file.display()));
                }
            }
        }
    }
    assert!(missing.is_empty(), "{missing:#?}");
}

#[test]
fn document_scanners_find_paths_and_links() {
    assert_eq!(
        named_paths(
            "see `docs/fairness.md`, docs/performance.md#gpu, not shared/docs/FINEFACE.md; \
             `crates/a/tests/b.rs`. tools/c.py, src/crates/d.rs"
        ),
        [
            "docs/fairness.md",
            "docs/performance.md",
            "crates/a/tests/b.rs",
            "tools/c.py"
        ]
    );
    assert_eq!(
        relative_links("[a](../b.md#c) [d](https://e.org/f.md) [g](#h) [i](j/)"),
        ["../b.md", "j/"]
    );
}
