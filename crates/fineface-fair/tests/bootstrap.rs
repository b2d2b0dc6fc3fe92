//! Seeded bootstrap confidence intervals.

#![allow(clippy::unwrap_used)] // Test helpers panic on broken fixtures by design.

mod common;

use fineface_fair::{
    AuditOptions, BootstrapConfig, CsvSpec, SensitiveColumns, SubgroupReport, audit,
    read_predictions_csv,
};

fn report_with(file: &str, features: &[&str], replicates: usize, seed: u64) -> SubgroupReport {
    let spec = CsvSpec {
        sensitive: SensitiveColumns::Columns(features.iter().map(|s| s.to_string()).collect()),
        ..CsvSpec::default()
    };
    let table = read_predictions_csv(common::golden_path(file), &spec).unwrap();
    let pos_label = if file.starts_with("fairface") {
        "Male"
    } else {
        "1"
    };
    let options = AuditOptions {
        pos_label: pos_label.into(),
        bootstrap: Some(BootstrapConfig::new(replicates, seed)),
    };
    audit(&table, &options).unwrap()
}

#[test]
fn same_seed_same_intervals_other_seed_other_intervals() {
    let a = report_with("balanced.csv", &["race", "gender"], 500, 7);
    let b = report_with("balanced.csv", &["race", "gender"], 500, 7);
    let c = report_with("balanced.csv", &["race", "gender"], 500, 8);
    assert_eq!(a.bootstrap, b.bootstrap);
    assert_ne!(a.bootstrap, c.bootstrap);
    // The bootstrap leaves the point estimates alone.
    assert_eq!(a.aggregates, c.aggregates);
}

#[test]
fn intervals_contain_the_point_estimates() {
    let report = report_with("fairface_7x2.csv", &["race", "gender"], 2000, 1);
    let bootstrap = report.bootstrap.as_ref().unwrap();
    assert_eq!(bootstrap.replicates, 2000);
    let contains = |name: &str, interval: &fineface_fair::Interval, value: f64| {
        let (low, high) = (interval.low.unwrap(), interval.high.unwrap());
        assert!(
            low <= value && value <= high,
            "{name}: {value} not in [{low}, {high}]"
        );
        assert!(low < high || low == value, "{name}: degenerate interval");
    };
    contains(
        "overall accuracy",
        &bootstrap.overall_accuracy,
        report.overall.metrics.accuracy,
    );
    assert_eq!(bootstrap.group_accuracy.len(), report.groups.len());
    for (name, metrics) in &report.groups {
        contains(name, &bootstrap.group_accuracy[name], metrics.accuracy);
    }
    let a = &report.aggregates;
    for (key, value) in [
        ("mean_group_accuracy", a.mean_group_accuracy),
        ("accuracy_difference", a.accuracy_difference),
        ("dob_std_ddof0", a.dob_std_ddof0),
        (
            "demographic_parity_difference",
            a.parity.demographic_parity_difference,
        ),
    ] {
        contains(key, &bootstrap.aggregates[key], value);
    }
    // SER is infinite in some replicates (a group without errors): "inf" is a valid bound.
    assert!(bootstrap.aggregates.contains_key("ser"));
    assert!(report.to_json().unwrap().contains("\"group_accuracy\""));
}

#[test]
fn perfect_groups_get_degenerate_intervals() {
    let report = report_with("all_perfect.csv", &["sex"], 200, 3);
    let bootstrap = report.bootstrap.unwrap();
    for interval in bootstrap.group_accuracy.values() {
        assert_eq!((interval.low, interval.high), (Some(1.0), Some(1.0)));
    }
    // SER is 0/0 in every replicate: undefined, not 0.
    let ser = &bootstrap.aggregates["ser"];
    assert_eq!((ser.low, ser.high, ser.n_defined), (None, None, 0));
}

#[test]
fn invalid_settings_are_rejected() {
    let spec = CsvSpec {
        sensitive: SensitiveColumns::Columns(vec!["sex".into()]),
        ..CsvSpec::default()
    };
    let table = read_predictions_csv(common::golden_path("all_perfect.csv"), &spec).unwrap();
    for config in [
        BootstrapConfig::new(0, 1),
        BootstrapConfig {
            confidence: 1.0,
            ..BootstrapConfig::new(10, 1)
        },
        // Too few replicates for a tail at each end: 1 gave an interval without the estimate.
        BootstrapConfig::new(1, 1),
        BootstrapConfig::new(39, 1),
        BootstrapConfig {
            confidence: 0.99,
            ..BootstrapConfig::new(199, 1)
        },
    ] {
        let options = AuditOptions {
            bootstrap: Some(config),
            ..Default::default()
        };
        let error = audit(&table, &options).unwrap_err();
        assert!(
            error.to_string().starts_with("invalid bootstrap setting"),
            "{error}"
        );
    }
}

#[test]
fn too_few_replicates_are_refused_in_numbers_a_person_writes() {
    let spec = CsvSpec {
        sensitive: SensitiveColumns::Columns(vec!["sex".into()]),
        ..CsvSpec::default()
    };
    let table = read_predictions_csv(common::golden_path("all_perfect.csv"), &spec).unwrap();
    for (config, message) in [
        (
            BootstrapConfig::new(1, 1),
            "1 replicate cannot give a 95 % percentile interval: each tail of 2.5 % needs a \
             replicate, so at least 40",
        ),
        (
            BootstrapConfig {
                confidence: 0.99,
                ..BootstrapConfig::new(5, 1)
            },
            "5 replicates cannot give a 99 % percentile interval: each tail of 0.5 % needs a \
             replicate, so at least 200",
        ),
    ] {
        let options = AuditOptions {
            bootstrap: Some(config),
            ..Default::default()
        };
        let error = audit(&table, &options).unwrap_err().to_string();
        assert!(error.contains(message), "{error}");
    }
}

#[test]
fn the_fewest_replicates_allowed_have_a_replicate_in_each_tail() {
    assert_eq!(BootstrapConfig::new(40, 1).minimum_replicates(), 40);
    let at_99 = BootstrapConfig {
        confidence: 0.99,
        ..BootstrapConfig::new(200, 1)
    };
    assert_eq!(at_99.minimum_replicates(), 200);
    // At the minimum the interval is defined and holds the estimate.
    let report = report_with("balanced.csv", &["race", "gender"], 40, 7);
    let interval = &report.bootstrap.as_ref().unwrap().overall_accuracy;
    let (low, high) = (interval.low.unwrap(), interval.high.unwrap());
    let estimate = report.overall.metrics.accuracy;
    assert!(
        low <= estimate && estimate <= high,
        "{low} {estimate} {high}"
    );
}
