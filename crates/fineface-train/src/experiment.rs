//! What a trainer trains: an experiment checked once, with its devices.

use crate::config::ExperimentConfig;
use crate::error::{Result, TrainError};

/// An experiment checked whole ([`ExperimentConfig::validate`]: ranges, widths, sizes,
/// columns, the names in `train.devices`), its normalisation resolved, and the devices it
/// trains on (at least one): what [`Trainer::new`](crate::Trainer::new) requires. Made once, whether the
/// config was read from a file or built in code, so that no trainer meets an invalid
/// setting or an empty device list.
#[derive(Debug, Clone)]
pub struct Experiment<D> {
    config: ExperimentConfig,
    devices: Vec<D>,
}

impl<D> Experiment<D> {
    /// `config` on `devices` (one, or several for data parallelism), checked.
    ///
    /// # Errors
    /// [`TrainError::InvalidExperiment`] naming the setting that is out of range, or saying
    /// that no device was given.
    pub fn new(mut config: ExperimentConfig, devices: Vec<D>) -> Result<Self> {
        config
            .validate()
            .map_err(|message| TrainError::InvalidExperiment {
                name: config.name.clone(),
                message,
            })?;
        if devices.is_empty() {
            return Err(TrainError::InvalidExperiment {
                name: config.name,
                message: "no device given".to_owned(),
            });
        }
        config.resolve_normalisation();
        Ok(Self { config, devices })
    }

    /// The experiment.
    pub fn config(&self) -> &ExperimentConfig {
        &self.config
    }

    /// The devices, at least one.
    pub fn devices(&self) -> &[D] {
        &self.devices
    }

    /// The experiment and its devices.
    pub(crate) fn into_parts(self) -> (ExperimentConfig, Vec<D>) {
        (self.config, self.devices)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // Tests panic on failure by design.

    use super::*;

    fn synthface() -> ExperimentConfig {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../configs/synthface.toml");
        ExperimentConfig::from_file(&path).unwrap()
    }

    #[test]
    fn a_config_built_in_code_is_checked_as_a_file_is() {
        let experiment = Experiment::new(synthface(), vec![()]).unwrap();
        assert_eq!(experiment.devices().len(), 1);
        // Each setting a file is refused for, set in code instead.
        type Edit = fn(&mut ExperimentConfig);
        let edits: [(&str, Edit); 4] = [
            ("train.batch_size", |c| c.train.batch_size = 1),
            ("model.width", |c| c.model.width = 0),
            ("transform", |c| c.transform.crop = 8),
            ("train.devices", |c| c.train.devices.clear()),
        ];
        for (key, edit) in edits {
            let mut config = synthface();
            edit(&mut config);
            let error = Experiment::new(config, vec![()]).unwrap_err();
            assert!(
                matches!(&error, TrainError::InvalidExperiment { message, .. } if message.contains(key)),
                "{key}: {error}"
            );
        }
        let error = Experiment::<()>::new(synthface(), Vec::new()).unwrap_err();
        assert_eq!(error.to_string(), "experiment `synthface`: no device given");
    }
}
