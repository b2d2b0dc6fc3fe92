//! `cargo xtask data check`: what a dataset folder holds, before training on it.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::{Args, Subcommand, ValueEnum};
use fineface_data::{DataCheck, DatasetConfig, DatasetKind, SplitConfig};

/// Dataset tasks.
#[derive(Debug, Args)]
pub struct DataArgs {
    #[command(subcommand)]
    command: DataCommand,
}

#[derive(Debug, Subcommand)]
enum DataCommand {
    /// Count images per split x target x group, list skipped files, histogram image sizes;
    /// exit non-zero if the layout is unusable.
    Check(CheckArgs),
}

/// The dataset kinds `data check` reads (SynthFace is generated, not checked).
#[derive(Debug, Clone, Copy, ValueEnum)]
enum Kind {
    Fairface,
    Utkface,
    Celeba,
    Lfwa,
    Imagefolder,
    Manifest,
}

impl From<Kind> for DatasetKind {
    fn from(kind: Kind) -> Self {
        match kind {
            Kind::Fairface => Self::FairFace,
            Kind::Utkface => Self::UtkFace,
            Kind::Celeba => Self::CelebA,
            Kind::Lfwa => Self::Lfwa,
            Kind::Imagefolder => Self::ImageFolder,
            Kind::Manifest => Self::Manifest,
        }
    }
}

#[derive(Debug, Args)]
struct CheckArgs {
    /// The dataset's layout.
    #[arg(value_enum)]
    kind: Kind,
    /// The folder the dataset was unpacked to.
    #[arg(long)]
    root: PathBuf,
    /// Also write the report as JSON here.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Seed of the carved splits.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Skip reading image headers (no size histogram, faster on large datasets).
    #[arg(long)]
    no_sizes: bool,
    /// The target attribute or column (`gender`, `race`, `age`; CelebA's `Smiling`; a
    /// manifest's column). Default: the kind's.
    #[arg(long)]
    target: Option<String>,
    /// The sensitive attributes or columns forming the groups, comma-separated (CelebA,
    /// manifest, ImageFolder's groups CSV). Default: the kind's.
    #[arg(long, value_delimiter = ',')]
    sensitive: Option<Vec<String>>,
    /// The manifest's CSV, or ImageFolder's groups CSV, relative to the root.
    #[arg(long)]
    csv: Option<PathBuf>,
    /// The manifest's column of image paths (default `path`).
    #[arg(long)]
    path_column: Option<String>,
}

impl DataArgs {
    pub fn run(self) -> anyhow::Result<()> {
        match self.command {
            DataCommand::Check(args) => args.run(),
        }
    }
}

impl CheckArgs {
    /// `config` with the target, sensitive columns and CSV the flags name, each refused
    /// where the kind has no such setting.
    fn with_columns(&self, mut config: DatasetConfig) -> anyhow::Result<DatasetConfig> {
        let kind = config.kind();
        let (target, sensitive, csv) = match &mut config {
            DatasetConfig::Manifest(m) => {
                if let Some(column) = &self.path_column {
                    column.clone_into(&mut m.path_column);
                }
                (
                    Some(&mut m.target),
                    Some(&mut m.sensitive),
                    Some(&mut m.csv),
                )
            }
            DatasetConfig::CelebA(c) => (Some(&mut c.target), Some(&mut c.sensitive), None),
            DatasetConfig::FairFace(f) => (Some(&mut f.target), None, None),
            DatasetConfig::UtkFace(u) => (Some(&mut u.target), None, None),
            DatasetConfig::Lfwa(l) => (Some(&mut l.target), None, None),
            DatasetConfig::ImageFolder(i) => {
                if let Some(csv) = &self.csv {
                    i.groups_csv = Some(csv.clone());
                }
                (None, Some(&mut i.sensitive), None)
            }
            DatasetConfig::SynthFace(_) => (None, None, None),
        };
        let refuse =
            |flag: &str, why: &str| anyhow::anyhow!("{flag} does not apply to {kind}: {why}");
        match (target, &self.target) {
            (Some(field), Some(value)) => value.clone_into(field),
            (None, Some(_)) => return Err(refuse("--target", "its classes are its folders")),
            _ => {}
        }
        if kind != DatasetKind::Manifest && self.path_column.is_some() {
            return Err(refuse(
                "--path-column",
                "only a manifest names its column of image paths",
            ));
        }
        if kind == DatasetKind::ImageFolder && self.sensitive.is_some() && self.csv.is_none() {
            return Err(refuse(
                "--sensitive",
                "its groups come from a groups CSV: give it with --csv",
            ));
        }
        match (sensitive, &self.sensitive) {
            (Some(field), Some(value)) => {
                // `--sensitive 'race, gender'`: names as written in the header.
                let names: Vec<String> = value.iter().map(|v| v.trim().to_owned()).collect();
                anyhow::ensure!(
                    names.iter().all(|n| !n.is_empty()),
                    "--sensitive `{}` names an empty column: give the column names, \
                     comma-separated",
                    value.join(",")
                );
                *field = names;
            }
            (None, Some(_)) => {
                return Err(refuse(
                    "--sensitive",
                    "its groups are fixed (race x gender)",
                ));
            }
            _ => {}
        }
        match (csv, &self.csv) {
            (Some(field), Some(value)) => value.clone_into(field),
            (None, Some(_)) if kind != DatasetKind::ImageFolder => {
                return Err(refuse("--csv", "it reads its own label files"));
            }
            _ => {}
        }
        Ok(config)
    }

    fn run(self) -> anyhow::Result<()> {
        let config = DatasetConfig::with_root(self.kind.into(), self.root.clone());
        let config = self.with_columns(config)?;
        let split = SplitConfig {
            seed: self.seed,
            ..SplitConfig::default()
        };
        let dataset = config.load(&split)?;
        let check = DataCheck::new(&dataset, !self.no_sizes);
        if let Some(path) = &self.json {
            std::fs::write(path, serde_json::to_string_pretty(&check)? + "\n")
                .with_context(|| format!("writing {}", path.display()))?;
        }
        let mut out = std::io::stdout().lock();
        writeln!(
            out,
            "{} at {}: target `{}`, groups {}",
            check.dataset,
            check.root,
            check.target,
            check.sensitive.join(" x ")
        )?;
        writeln!(out, "| split | n | targets | groups |\n|---|---:|---|---|")?;
        for (name, counts) in &check.splits {
            let fmt = |m: &std::collections::BTreeMap<String, usize>| {
                let counts: Vec<String> = m.iter().map(|(k, v)| format!("{k} {v}")).collect();
                fineface_fair::markdown_cell(&counts.join(", "))
            };
            writeln!(
                out,
                "| {name} | {} | {} | {} |",
                counts.n,
                fmt(&counts.targets),
                fmt(&counts.groups)
            )?;
        }
        let sizes: Vec<String> = check
            .image_sizes
            .iter()
            .map(|(k, v)| format!("{k}: {v}"))
            .collect();
        if !sizes.is_empty() {
            writeln!(out, "image sizes: {}", sizes.join(", "))?;
        }
        writeln!(out, "skipped: {}", check.n_skipped)?;
        for s in check.skipped.iter().take(20) {
            writeln!(out, "  {}: {}", s.file, s.reason)?;
        }
        if check.n_skipped > 20 {
            writeln!(
                out,
                "  ... {} more{}",
                check.n_skipped - 20,
                self.json
                    .as_ref()
                    .map_or(String::new(), |p| format!(" (all in {})", p.display()))
            )?;
        }
        for warning in &check.warnings {
            writeln!(out, "warning: {warning}")?;
        }
        if let Some(reason) = check.unusable_reason() {
            bail!(
                "{} at {} is not usable: {reason}",
                check.dataset,
                check.root
            );
        }
        Ok(())
    }
}
