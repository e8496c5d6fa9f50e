//! The scaling policy from flags and environment, with KEDA's own parameter names.

use std::time::Duration;

use autoscale::Profile;
use clap::{Args, ValueEnum};

/// A named starting point for the policy.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum ProfileName {
    /// The documented defaults of KEDA, the HPA and the AKS cluster autoscaler.
    Aks,
    /// `aks` with the original demo's ScaledObject (pollingInterval 5, cooldownPeriod 30,
    /// max 20 replicas, queueLength 5, 1 CPU / 4 GiB pods).
    SeedDemo,
    /// The same rules with compressed timings: a 200-item run rises and falls in about a minute.
    #[default]
    Demo,
}

/// The scaling policy: a profile and the parameters to override in it.
#[derive(Clone, Debug, Default, Args)]
pub struct PolicyArgs {
    /// Profile to start from.
    #[arg(long, env = "SCALEBOARD_PROFILE", value_enum, default_value_t = ProfileName::Demo)]
    pub profile: ProfileName,

    /// A whole policy as JSON (the `profile` object `GET /api/cluster` shows), replacing
    /// --profile: every KEDA, HPA, pod, node-pool and cluster-autoscaler parameter. The flags
    /// below still override it.
    #[arg(long, env = "SCALEBOARD_PROFILE_FILE")]
    pub profile_file: Option<std::path::PathBuf>,

    /// KEDA `pollingInterval`, seconds: how often the trigger is checked for activation.
    #[arg(long, env = "SCALEBOARD_POLLING_INTERVAL")]
    pub polling_interval: Option<f64>,

    /// KEDA `cooldownPeriod`, seconds: how long after the last activity before scaling to zero.
    #[arg(long, env = "SCALEBOARD_COOLDOWN_PERIOD")]
    pub cooldown_period: Option<f64>,

    /// KEDA `minReplicaCount`.
    #[arg(long, env = "SCALEBOARD_MIN_REPLICAS")]
    pub min_replicas: Option<u32>,

    /// KEDA `maxReplicaCount`.
    #[arg(long, env = "SCALEBOARD_MAX_REPLICAS")]
    pub max_replicas: Option<u32>,

    /// The azure-queue trigger's `queueLength`: target messages per replica.
    #[arg(long, env = "SCALEBOARD_QUEUE_LENGTH")]
    pub queue_length: Option<u64>,

    /// The azure-queue trigger's `activationQueueLength`: active only when the queue is longer.
    #[arg(long, env = "SCALEBOARD_ACTIVATION_QUEUE_LENGTH")]
    pub activation_queue_length: Option<u64>,

    /// Smallest number of nodes in the worker pool.
    #[arg(long, env = "SCALEBOARD_MIN_NODES")]
    pub min_nodes: Option<u32>,

    /// Largest number of nodes in the worker pool.
    #[arg(long, env = "SCALEBOARD_MAX_NODES")]
    pub max_nodes: Option<u32>,
}

impl PolicyArgs {
    /// The profile with the overrides applied, validated.
    pub fn profile(&self) -> Result<Profile, String> {
        let base = match (&self.profile_file, self.profile) {
            (Some(path), _) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| format!("reading {}: {e}", path.display()))?;
                serde_json::from_str(&text)
                    .map_err(|e| format!("{} is not a policy: {e}", path.display()))?
            }
            (None, ProfileName::Aks) => Profile::aks(),
            (None, ProfileName::SeedDemo) => Profile::seed_demo(),
            (None, ProfileName::Demo) => Profile::demo(),
        };
        self.apply_to(base)
    }

    /// `base` with the overrides applied, validated: the named profile for the flags, or the
    /// cluster's own policy for a what-if replay.
    pub fn apply_to(&self, mut profile: Profile) -> Result<Profile, String> {
        let seconds = |name: &str, value: f64| -> Result<Duration, String> {
            Duration::try_from_secs_f64(value).map_err(|_| {
                format!("--{name} must be a non-negative number of seconds, not {value}")
            })
        };
        let keda = &mut profile.scaled_object;
        if let Some(v) = self.polling_interval {
            keda.polling_interval = seconds("polling-interval", v)?;
        }
        if let Some(v) = self.cooldown_period {
            keda.cooldown_period = seconds("cooldown-period", v)?;
        }
        if let Some(v) = self.min_replicas {
            keda.min_replicas = v;
        }
        if let Some(v) = self.max_replicas {
            keda.max_replicas = v;
        }
        if let Some(v) = self.queue_length {
            keda.queue_length = v;
        }
        if let Some(v) = self.activation_queue_length {
            keda.activation_queue_length = v;
        }
        if let Some(v) = self.min_nodes {
            profile.node_pool.min_nodes = v;
        }
        if let Some(v) = self.max_nodes {
            profile.node_pool.max_nodes = v;
        }
        profile.validate().map_err(|e| e.to_string())?;
        Ok(profile)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        policy: PolicyArgs,
    }

    fn parse(args: &[&str]) -> PolicyArgs {
        Cli::try_parse_from(std::iter::once("t").chain(args.iter().copied()))
            .unwrap()
            .policy
    }

    #[test]
    fn overrides_use_kedas_names_and_apply_on_the_profile() {
        let profile = parse(&[
            "--profile",
            "aks",
            "--polling-interval",
            "5",
            "--cooldown-period",
            "30",
            "--max-replicas",
            "20",
            "--queue-length",
            "10",
        ])
        .profile()
        .unwrap();
        let keda = &profile.scaled_object;
        assert_eq!(keda.polling_interval, Duration::from_secs(5));
        assert_eq!(keda.cooldown_period, Duration::from_secs(30));
        assert_eq!(keda.max_replicas, 20);
        assert_eq!(keda.queue_length, 10);
        // What was not overridden keeps the profile's value.
        assert_eq!(keda.min_replicas, Profile::aks().scaled_object.min_replicas);
    }

    #[test]
    fn the_seed_demo_preset_is_the_original_scaled_object() {
        let keda = parse(&["--profile", "seed-demo"])
            .profile()
            .unwrap()
            .scaled_object;
        assert_eq!(keda.polling_interval, Duration::from_secs(5));
        assert_eq!(keda.cooldown_period, Duration::from_secs(30));
        assert_eq!(
            (keda.min_replicas, keda.max_replicas, keda.queue_length),
            (0, 20, 5)
        );
    }

    #[test]
    fn a_policy_file_sets_every_parameter_and_flags_still_override() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("policy.json");
        let mut profile = Profile::aks();
        profile.hpa.sync_period = Duration::from_secs(7);
        profile.node_pool.vm_size = "Standard_D16s_v5".into();
        std::fs::write(&path, serde_json::to_string(&profile).unwrap()).unwrap();
        let file = path.to_str().unwrap();
        let loaded = parse(&["--profile-file", file, "--max-replicas", "9"])
            .profile()
            .unwrap();
        assert_eq!(loaded.hpa.sync_period, Duration::from_secs(7));
        assert_eq!(loaded.node_pool.vm_size, "Standard_D16s_v5");
        assert_eq!(loaded.scaled_object.max_replicas, 9);

        std::fs::write(&path, "{\"not\": \"a policy\"}").unwrap();
        let err = parse(&["--profile-file", file]).profile().unwrap_err();
        assert!(err.contains("is not a policy"), "{err}");
        let err = parse(&["--profile-file", "/nonexistent/policy.json"])
            .profile()
            .unwrap_err();
        assert!(err.contains("reading"), "{err}");
    }

    #[test]
    fn bad_values_are_explained() {
        let err = parse(&["--polling-interval=-1"]).profile().unwrap_err();
        assert!(err.contains("--polling-interval"), "{err}");
        let err = parse(&["--min-replicas", "9", "--max-replicas", "3"])
            .profile()
            .unwrap_err();
        assert!(!err.is_empty());
    }
}
