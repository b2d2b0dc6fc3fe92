//! `fineface devices`: the devices each backend finds, and probes of them.

use clap::Args;

#[derive(Args)]
pub(crate) struct DevicesArgs {
    /// Run the probe on this device (`cuda:0`, `wgpu`, `wgpu:1`); may be repeated. Exits with
    /// an error naming the first device that cannot run it.
    #[arg(long)]
    pub(crate) probe: Vec<String>,
    /// Print JSON (`backends`, `probes`) instead of text.
    #[arg(long)]
    pub(crate) json: bool,
}

/// `fineface devices`: what each backend finds, then the probes asked for. With `--json`
/// the JSON is printed even when a probe fails (the failure under `probes[].error`), and the
/// exit status still says it failed.
#[allow(clippy::print_stdout)] // The listing is this command's output.
pub(crate) fn devices(args: &DevicesArgs) -> anyhow::Result<()> {
    let found = fineface_model::found_devices();
    let mut probes = Vec::new();
    let mut failure = None;
    for name in &args.probe {
        let result = name
            .parse::<fineface_model::DeviceSpec>()
            .map_err(anyhow::Error::from)
            .and_then(|spec| fineface_train::probe_device(spec).map_err(anyhow::Error::from));
        match result {
            Ok(probe) => probes.push(serde_json::json!(probe)),
            Err(error) => {
                probes.push(serde_json::json!({"device": name, "error": format!("{error:#}")}));
                failure.get_or_insert(error.context(format!("probing {name}")));
                break;
            }
        }
    }
    if args.json {
        let backends: Vec<serde_json::Value> = found
            .iter()
            .map(|b| {
                serde_json::json!({
                    "backend": b.backend,
                    "unavailable": b.unavailable,
                    "devices": b.devices.iter().map(|d| serde_json::json!({
                        "device": d.spec.to_string(),
                        "name": d.name,
                        "detail": d.detail,
                    })).collect::<Vec<_>>(),
                })
            })
            .collect();
        let json = serde_json::json!({"backends": backends, "probes": probes});
        println!("{}", serde_json::to_string_pretty(&json)?);
    } else {
        for backend in &found {
            match &backend.unavailable {
                Some(reason) => println!("{:<5} none: {reason}", backend.backend),
                None => {
                    for d in &backend.devices {
                        println!(
                            "{:<5} {:<8} {} ({})",
                            backend.backend, d.spec, d.name, d.detail
                        );
                    }
                }
            }
        }
        for probe in &probes {
            if probe.get("error").is_none() {
                println!(
                    "probe {}: matches the CPU (relative error {:.1e}); first run {:.2} s, \
                     second {:.3} s; between nodes: {}",
                    probe["device"].as_str().unwrap_or_default(),
                    probe["max_relative_error"].as_f64().unwrap_or_default(),
                    probe["first_seconds"].as_f64().unwrap_or_default(),
                    probe["seconds"].as_f64().unwrap_or_default(),
                    probe["between_nodes"].as_str().unwrap_or_default(),
                );
            }
        }
    }
    failure.map_or(Ok(()), Err)
}
