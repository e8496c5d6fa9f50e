//! The manifests under `deploy/`, as `kubectl kustomize` renders each overlay, checked against
//! the code they must agree with: every object parses into its Kubernetes type, names refer to
//! objects that exist, KEDA scales the worker on the queue the code fills with the settings
//! `deploy/README.md` documents, the server's RBAC grants exactly what its cluster view reads,
//! and the settings given to the server are ones it reads.
//!
//! Needs `kubectl` (1.32 bundles Kustomize 5.5 and renders without a cluster); without it the
//! tests fail and say so, since an unchecked manifest is how a deployment breaks silently.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use clap::{CommandFactory, Parser};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{
    ConfigMap, Container, Namespace, PodTemplateSpec, Service, ServiceAccount,
};
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding};
use serde::Deserialize;
use serde_json::Value;
use server::cluster::kube::{READS, VERBS};
use server::cluster::ClusterArgs;
use server::config::Config;

const NAMESPACE: &str = "scaleboard";
const OVERLAYS: [&str; 2] = ["aks", "connection-string"];

fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("server/ is inside the repository")
        .to_path_buf()
}

/// One overlay's objects, each parsed into its type.
#[derive(Default)]
struct Rendered {
    overlay: String,
    namespaces: Vec<Namespace>,
    service_accounts: Vec<ServiceAccount>,
    config_maps: Vec<ConfigMap>,
    deployments: Vec<Deployment>,
    services: Vec<Service>,
    roles: Vec<Role>,
    role_bindings: Vec<RoleBinding>,
    cluster_roles: Vec<ClusterRole>,
    cluster_role_bindings: Vec<ClusterRoleBinding>,
    /// KEDA's resources, which k8s-openapi does not cover.
    scaled_objects: Vec<Value>,
    trigger_authentications: Vec<Value>,
}

fn typed<T: serde::de::DeserializeOwned>(overlay: &str, object: Value) -> T {
    let name = object["metadata"]["name"].clone();
    serde_json::from_value(object).unwrap_or_else(|e| {
        panic!(
            "overlay {overlay}: {name} is not a valid {}: {e}",
            std::any::type_name::<T>()
        )
    })
}

fn render(overlay: &str) -> Rendered {
    let dir = repository().join("deploy/overlays").join(overlay);
    let output = Command::new("kubectl")
        .arg("kustomize")
        .arg(&dir)
        .output()
        .unwrap_or_else(|e| {
            let why = if e.kind() == std::io::ErrorKind::NotFound {
                "kubectl is not installed (not found on PATH)".to_string()
            } else {
                e.to_string()
            };
            panic!(
                "cannot run `kubectl kustomize {}`: {why}. These checks need kubectl (1.32 or \
                 later, which bundles Kustomize): install it, e.g. from the Kubernetes apt \
                 repository, and run the tests again",
                dir.display()
            )
        });
    assert!(
        output.status.success(),
        "`kubectl kustomize {}` failed:\n{}",
        dir.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8(output.stdout).expect("kustomize prints UTF-8");
    let mut rendered = Rendered {
        overlay: overlay.into(),
        ..Rendered::default()
    };
    for document in serde_norway::Deserializer::from_str(&text) {
        let object = Value::deserialize(document)
            .unwrap_or_else(|e| panic!("overlay {overlay}: unreadable YAML: {e}"));
        let kind = object["kind"].as_str().unwrap_or_default().to_string();
        let api_version = object["apiVersion"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        match (api_version.as_str(), kind.as_str()) {
            ("v1", "Namespace") => rendered.namespaces.push(typed(overlay, object)),
            ("v1", "ServiceAccount") => rendered.service_accounts.push(typed(overlay, object)),
            ("v1", "ConfigMap") => rendered.config_maps.push(typed(overlay, object)),
            ("v1", "Service") => rendered.services.push(typed(overlay, object)),
            ("apps/v1", "Deployment") => rendered.deployments.push(typed(overlay, object)),
            ("rbac.authorization.k8s.io/v1", "Role") => rendered.roles.push(typed(overlay, object)),
            ("rbac.authorization.k8s.io/v1", "RoleBinding") => {
                rendered.role_bindings.push(typed(overlay, object))
            }
            ("rbac.authorization.k8s.io/v1", "ClusterRole") => {
                rendered.cluster_roles.push(typed(overlay, object))
            }
            ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding") => {
                rendered.cluster_role_bindings.push(typed(overlay, object))
            }
            ("keda.sh/v1alpha1", "ScaledObject") => rendered.scaled_objects.push(object),
            ("keda.sh/v1alpha1", "TriggerAuthentication") => {
                rendered.trigger_authentications.push(object)
            }
            _ => panic!("overlay {overlay}: unexpected object {api_version} {kind}"),
        }
    }
    rendered
}

fn name<
    T: k8s_openapi::Metadata<Ty = k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta>,
>(
    object: &T,
) -> &str {
    object.metadata().name.as_deref().unwrap_or_default()
}

impl Rendered {
    fn deployment(&self, wanted: &str) -> &Deployment {
        self.deployments
            .iter()
            .find(|d| name(*d) == wanted)
            .unwrap_or_else(|| panic!("overlay {}: no Deployment {wanted}", self.overlay))
    }

    fn template<'a>(&self, deployment: &'a Deployment) -> &'a PodTemplateSpec {
        &deployment
            .spec
            .as_ref()
            .expect("a Deployment has a spec")
            .template
    }

    fn container<'a>(&self, deployment: &'a Deployment, wanted: &str) -> &'a Container {
        self.template(deployment)
            .spec
            .as_ref()
            .and_then(|spec| spec.containers.iter().find(|c| c.name == wanted))
            .unwrap_or_else(|| {
                panic!(
                    "overlay {}: no container {wanted} in Deployment {}",
                    self.overlay,
                    name(deployment)
                )
            })
    }

    /// The environment a container starts with: its `env` values (`None` when taken from a
    /// field or a Secret) over the ConfigMaps named in `envFrom`.
    fn environment(&self, container: &Container) -> BTreeMap<String, Option<String>> {
        let mut environment = BTreeMap::new();
        for source in container.env_from.iter().flatten() {
            let Some(reference) = &source.config_map_ref else {
                continue;
            };
            let config_map = self
                .config_maps
                .iter()
                .find(|c| name(*c) == reference.name)
                .unwrap_or_else(|| {
                    panic!(
                        "overlay {}: container {} reads ConfigMap {}, which is not rendered",
                        self.overlay, container.name, reference.name
                    )
                });
            for (key, value) in config_map.data.iter().flatten() {
                environment.insert(key.clone(), Some(value.clone()));
            }
        }
        for variable in container.env.iter().flatten() {
            environment.insert(variable.name.clone(), variable.value.clone());
        }
        environment
    }

    fn direct_env<'a>(
        &self,
        container: &'a Container,
        wanted: &str,
    ) -> &'a k8s_openapi::api::core::v1::EnvVar {
        container
            .env
            .iter()
            .flatten()
            .find(|v| v.name == wanted)
            .unwrap_or_else(|| {
                panic!(
                    "overlay {}: container {} has no env {wanted}",
                    self.overlay, container.name
                )
            })
    }
}

fn labels_match(selector: &BTreeMap<String, String>, labels: &BTreeMap<String, String>) -> bool {
    selector.iter().all(|(k, v)| labels.get(k) == Some(v))
}

/// `key=value,key=value` as a map.
fn equality_selector(text: &str) -> BTreeMap<String, String> {
    text.split(',')
        .filter(|clause| !clause.is_empty())
        .map(|clause| {
            let (k, v) = clause
                .split_once('=')
                .unwrap_or_else(|| panic!("{text:?} is not an equality selector"));
            (k.to_string(), v.to_string())
        })
        .collect()
}

/// The KEDA settings table in `deploy/README.md`: setting → value.
fn documented_keda_settings() -> BTreeMap<String, String> {
    let path = repository().join("deploy/README.md");
    let text = std::fs::read_to_string(&path).unwrap();
    let settings: BTreeMap<String, String> = text
        .lines()
        .filter_map(|line| {
            let cells: Vec<&str> = line
                .trim()
                .trim_matches('|')
                .split('|')
                .map(str::trim)
                .collect();
            let setting = cells.first()?.strip_prefix('`')?.strip_suffix('`')?;
            let value = cells.get(1)?.strip_prefix('`')?.strip_suffix('`')?;
            Some((setting.to_string(), value.to_string()))
        })
        .collect();
    for setting in [
        "queueLength",
        "activationQueueLength",
        "pollingInterval",
        "cooldownPeriod",
        "minReplicaCount",
        "maxReplicaCount",
    ] {
        assert!(
            settings.contains_key(setting),
            "{} does not document `{setting}` in its KEDA table",
            path.display()
        );
    }
    settings
}

fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

// ---------------------------------------------------------------------------------------------

#[test]
fn every_overlay_renders_into_valid_objects_in_one_namespace() {
    for overlay in OVERLAYS {
        let rendered = render(overlay);
        assert_eq!(
            rendered.namespaces.iter().map(name).collect::<Vec<_>>(),
            [NAMESPACE],
            "overlay {overlay}"
        );
        let namespaced = rendered
            .service_accounts
            .iter()
            .map(|o| (name(o), o.metadata.namespace.as_deref()))
            .chain(
                rendered
                    .config_maps
                    .iter()
                    .map(|o| (name(o), o.metadata.namespace.as_deref())),
            )
            .chain(
                rendered
                    .deployments
                    .iter()
                    .map(|o| (name(o), o.metadata.namespace.as_deref())),
            )
            .chain(
                rendered
                    .services
                    .iter()
                    .map(|o| (name(o), o.metadata.namespace.as_deref())),
            )
            .chain(
                rendered
                    .roles
                    .iter()
                    .map(|o| (name(o), o.metadata.namespace.as_deref())),
            )
            .chain(
                rendered
                    .role_bindings
                    .iter()
                    .map(|o| (name(o), o.metadata.namespace.as_deref())),
            )
            .chain(
                rendered
                    .scaled_objects
                    .iter()
                    .chain(&rendered.trigger_authentications)
                    .map(|o| {
                        (
                            o["metadata"]["name"].as_str().unwrap(),
                            o["metadata"]["namespace"].as_str(),
                        )
                    }),
            );
        for (object, namespace) in namespaced {
            assert_eq!(namespace, Some(NAMESPACE), "overlay {overlay}: {object}");
        }
        for deployment in &rendered.deployments {
            let spec = deployment.spec.as_ref().unwrap();
            let selector = spec.selector.match_labels.clone().unwrap_or_default();
            let labels = spec
                .template
                .metadata
                .as_ref()
                .and_then(|m| m.labels.clone())
                .unwrap_or_default();
            assert!(
                !selector.is_empty() && labels_match(&selector, &labels),
                "overlay {overlay}: Deployment {} does not select its own pods",
                name(deployment)
            );
            let account = spec
                .template
                .spec
                .as_ref()
                .and_then(|s| s.service_account_name.as_deref())
                .unwrap_or_else(|| {
                    panic!(
                        "overlay {overlay}: {} has no service account",
                        name(deployment)
                    )
                });
            assert!(
                rendered.service_accounts.iter().any(|a| name(a) == account),
                "overlay {overlay}: {} runs as ServiceAccount {account}, which is not rendered",
                name(deployment)
            );
            for container in &spec.template.spec.as_ref().unwrap().containers {
                rendered.environment(container);
            }
        }
    }
}

#[test]
fn keda_scales_the_worker_on_the_work_queue_as_documented() {
    let documented = documented_keda_settings();
    for overlay in OVERLAYS {
        let rendered = render(overlay);
        let [scaled_object] = rendered.scaled_objects.as_slice() else {
            panic!("overlay {overlay}: expected one ScaledObject");
        };
        let spec = &scaled_object["spec"];

        let target = &spec["scaleTargetRef"];
        assert_eq!(target["kind"], "Deployment", "overlay {overlay}");
        assert_eq!(target["apiVersion"], "apps/v1", "overlay {overlay}");
        let worker = rendered.deployment(target["name"].as_str().unwrap());
        rendered.container(worker, "worker");

        let triggers = spec["triggers"].as_array().unwrap();
        let [trigger] = triggers.as_slice() else {
            panic!(
                "overlay {overlay}: expected one trigger, found {}",
                triggers.len()
            );
        };
        assert_eq!(trigger["type"], "azure-queue", "overlay {overlay}");
        let metadata = &trigger["metadata"];
        assert_eq!(
            metadata["queueName"],
            storage::names::WORK_QUEUE,
            "overlay {overlay}: KEDA must watch the queue the server fills (storage::names)"
        );
        let authentication = trigger["authenticationRef"]["name"].as_str().unwrap();
        assert!(
            rendered
                .trigger_authentications
                .iter()
                .any(|t| t["metadata"]["name"] == authentication),
            "overlay {overlay}: TriggerAuthentication {authentication} is not rendered"
        );

        for (setting, value) in &documented {
            let actual = match setting.as_str() {
                "queueLength" | "activationQueueLength" => &metadata[setting],
                _ => &spec[setting],
            };
            assert_eq!(
                text(actual),
                *value,
                "overlay {overlay}: {setting} differs from deploy/README.md"
            );
        }
    }
}

#[test]
fn the_connection_string_reaches_keda_and_both_binaries_from_one_secret() {
    let rendered = render("connection-string");
    let [authentication] = rendered.trigger_authentications.as_slice() else {
        panic!("expected one TriggerAuthentication");
    };
    let [reference] = authentication["spec"]["secretTargetRef"]
        .as_array()
        .unwrap()
        .as_slice()
    else {
        panic!("expected one secretTargetRef");
    };
    assert_eq!(
        reference["parameter"], "connection",
        "the azure-queue scaler's parameter"
    );
    for (deployment, container) in [
        ("scaleboard-server", "server"),
        ("scaleboard-worker", "worker"),
    ] {
        let container = rendered.container(rendered.deployment(deployment), container);
        let variable = rendered.direct_env(container, "AZURE_STORAGE_CONNECTION_STRING");
        let secret = variable
            .value_from
            .as_ref()
            .and_then(|from| from.secret_key_ref.as_ref())
            .expect("the connection string comes from a Secret");
        assert_eq!(reference["name"], secret.name.as_str(), "{deployment}");
        assert_eq!(reference["key"], secret.key.as_str(), "{deployment}");
    }
}

/// The rules of every Role and ClusterRole bound to `account`, with where they apply.
fn rules_of(rendered: &Rendered, account: &str) -> Vec<(bool, PolicyRule)> {
    let subject_is_account = |subjects: &Option<Vec<k8s_openapi::api::rbac::v1::Subject>>| {
        subjects.iter().flatten().any(|s| {
            s.kind == "ServiceAccount"
                && s.name == account
                && s.namespace.as_deref().unwrap_or(NAMESPACE) == NAMESPACE
        })
    };
    let mut rules = Vec::new();
    for binding in rendered
        .role_bindings
        .iter()
        .filter(|b| subject_is_account(&b.subjects))
    {
        let rules_of_role = match binding.role_ref.kind.as_str() {
            "Role" => rendered
                .roles
                .iter()
                .find(|r| name(*r) == binding.role_ref.name)
                .and_then(|r| r.rules.clone()),
            _ => rendered
                .cluster_roles
                .iter()
                .find(|r| name(*r) == binding.role_ref.name)
                .and_then(|r| r.rules.clone()),
        }
        .unwrap_or_else(|| panic!("RoleBinding {} refers to a missing role", name(binding)));
        rules.extend(rules_of_role.into_iter().map(|rule| (false, rule)));
    }
    for binding in rendered
        .cluster_role_bindings
        .iter()
        .filter(|b| subject_is_account(&b.subjects))
    {
        for subject in binding.subjects.iter().flatten() {
            assert_eq!(
                subject.namespace.as_deref(),
                Some(NAMESPACE),
                "ClusterRoleBinding {} needs the service account's namespace",
                name(binding)
            );
        }
        let role = rendered
            .cluster_roles
            .iter()
            .find(|r| name(*r) == binding.role_ref.name)
            .unwrap_or_else(|| {
                panic!(
                    "ClusterRoleBinding {} refers to a missing role",
                    name(binding)
                )
            });
        rules.extend(
            role.rules
                .clone()
                .unwrap_or_default()
                .into_iter()
                .map(|rule| (true, rule)),
        );
    }
    rules
}

#[test]
fn the_server_may_read_what_its_cluster_view_watches_and_nothing_else() {
    for overlay in OVERLAYS {
        let rendered = render(overlay);
        let server = rendered.deployment("scaleboard-server");
        let account = rendered
            .template(server)
            .spec
            .as_ref()
            .and_then(|s| s.service_account_name.clone())
            .unwrap();
        let mut granted = BTreeSet::new();
        for (cluster_wide, rule) in rules_of(&rendered, &account) {
            assert!(
                rule.non_resource_urls.is_none() && rule.resource_names.is_none(),
                "overlay {overlay}: unexpected rule {rule:?}"
            );
            for group in rule.api_groups.iter().flatten() {
                for resource in rule.resources.iter().flatten() {
                    for verb in &rule.verbs {
                        assert!(
                            ![group, resource, verb].contains(&&"*".to_string()),
                            "overlay {overlay}: wildcard in {rule:?}"
                        );
                        granted.insert((
                            cluster_wide,
                            group.clone(),
                            resource.clone(),
                            verb.clone(),
                        ));
                    }
                }
            }
        }
        let needed: BTreeSet<(bool, String, String, String)> = READS
            .iter()
            .flat_map(|(group, resource, cluster_wide)| {
                VERBS.iter().map(move |verb| {
                    (
                        *cluster_wide,
                        group.to_string(),
                        resource.to_string(),
                        verb.to_string(),
                    )
                })
            })
            .collect();
        let extra: Vec<_> = granted.difference(&needed).collect();
        let missing: Vec<_> = needed.difference(&granted).collect();
        assert!(
            extra.is_empty() && missing.is_empty(),
            "overlay {overlay}: the server's RBAC differs from what the kube view reads \
             ((cluster-wide, group, resource, verb)):\n granted but unused: {extra:?}\n needed but \
             not granted: {missing:?}"
        );
        let worker = rendered.deployment("scaleboard-worker");
        assert!(
            rules_of(&rendered, "scaleboard-worker").is_empty(),
            "overlay {overlay}: the worker never calls the Kubernetes API"
        );
        assert_eq!(
            rendered
                .template(worker)
                .spec
                .as_ref()
                .and_then(|s| s.automount_service_account_token),
            Some(false),
            "overlay {overlay}: the worker needs no API token"
        );
    }
}

#[test]
fn the_worker_stops_within_its_termination_grace() {
    for overlay in OVERLAYS {
        let rendered = render(overlay);
        let worker = rendered.deployment("scaleboard-worker");
        let container = rendered.container(worker, "worker");
        let grace: i64 = rendered
            .direct_env(container, "SCALEBOARD_WORKER_GRACE_SECONDS")
            .value
            .as_deref()
            .and_then(|v| v.parse().ok())
            .expect("SCALEBOARD_WORKER_GRACE_SECONDS is a number of seconds");
        let termination = rendered
            .template(worker)
            .spec
            .as_ref()
            .and_then(|s| s.termination_grace_period_seconds)
            .unwrap_or(30);
        assert!(
            termination > grace,
            "overlay {overlay}: terminationGracePeriodSeconds ({termination}) must exceed \
             SCALEBOARD_WORKER_GRACE_SECONDS ({grace}), or the kubelet kills a worker still \
             releasing its message"
        );
    }
}

/// The environment variable names of the server's flags, as clap reads them.
fn server_env_names() -> BTreeSet<String> {
    Config::command()
        .get_arguments()
        .filter_map(|arg| arg.get_env())
        .map(|env| env.to_string_lossy().into_owned())
        .collect()
}

#[test]
fn the_server_is_given_settings_it_reads() {
    let known = server_env_names();
    let settings = [
        "SCALEBOARD_CLUSTER",
        "SCALEBOARD_NAMESPACE",
        "SCALEBOARD_POD_SELECTOR",
        "SCALEBOARD_NODE_SELECTOR",
        "SCALEBOARD_SCALED_OBJECT",
        "SCALEBOARD_ADDR",
        "LEPTOS_SITE_ROOT",
    ];
    for setting in settings {
        assert!(
            known.contains(setting),
            "the server has no flag reading {setting}"
        );
    }
    for overlay in OVERLAYS {
        let rendered = render(overlay);
        let server = rendered.deployment("scaleboard-server");
        let container = rendered.container(server, "server");
        let environment = rendered.environment(container);
        for setting in settings {
            assert!(
                environment.contains_key(setting),
                "overlay {overlay}: the server is not given {setting}"
            );
        }
        // What is set on the server container alone must be read by the server (the
        // ConfigMap is shared with the worker, so it may hold the worker's settings too).
        for variable in container.env.iter().flatten() {
            assert!(
                known.contains(&variable.name),
                "overlay {overlay}: the server container sets {}, which the server does not read",
                variable.name
            );
        }

        let value = |key: &str| {
            environment[key]
                .clone()
                .unwrap_or_else(|| panic!("overlay {overlay}: {key} should be a literal value"))
        };
        // The namespace is the server's own, from the downward API.
        let namespace = rendered.direct_env(container, "SCALEBOARD_NAMESPACE");
        assert_eq!(
            namespace
                .value_from
                .as_ref()
                .and_then(|from| from.field_ref.as_ref())
                .map(|field| field.field_path.as_str()),
            Some("metadata.namespace"),
            "overlay {overlay}"
        );
        value("SCALEBOARD_ADDR")
            .parse::<std::net::SocketAddr>()
            .expect("SCALEBOARD_ADDR is an address");

        // The cluster settings parse, and point at the objects rendered here.
        #[derive(Parser)]
        struct Flags {
            #[command(flatten)]
            cluster: ClusterArgs,
        }
        let cluster = Flags::try_parse_from([
            "scaleboard".to_string(),
            format!("--cluster={}", value("SCALEBOARD_CLUSTER")),
            format!("--selector={}", value("SCALEBOARD_POD_SELECTOR")),
            format!("--node-selector={}", value("SCALEBOARD_NODE_SELECTOR")),
            format!("--scaled-object={}", value("SCALEBOARD_SCALED_OBJECT")),
        ])
        .unwrap_or_else(|e| panic!("overlay {overlay}: the server rejects its settings: {e}"))
        .cluster;
        assert_eq!(
            cluster.kind,
            server::cluster::ClusterKind::Kube,
            "overlay {overlay}"
        );
        assert!(
            rendered
                .scaled_objects
                .iter()
                .any(|s| s["metadata"]["name"] == cluster.scaled_object.as_str()),
            "overlay {overlay}: SCALEBOARD_SCALED_OBJECT names no rendered ScaledObject"
        );
        let worker = rendered.deployment("scaleboard-worker");
        let worker_labels = rendered
            .template(worker)
            .metadata
            .as_ref()
            .and_then(|m| m.labels.clone())
            .unwrap_or_default();
        let server_labels = rendered
            .template(server)
            .metadata
            .as_ref()
            .and_then(|m| m.labels.clone())
            .unwrap_or_default();
        let pods = equality_selector(&cluster.pod_selector);
        assert!(
            labels_match(&pods, &worker_labels) && !labels_match(&pods, &server_labels),
            "overlay {overlay}: SCALEBOARD_POD_SELECTOR must select the worker pods only"
        );
        let node_selector = rendered
            .template(worker)
            .spec
            .as_ref()
            .and_then(|s| s.node_selector.clone())
            .unwrap_or_default();
        assert!(
            labels_match(&equality_selector(&cluster.node_selector), &node_selector),
            "overlay {overlay}: SCALEBOARD_NODE_SELECTOR must count the nodes the workers run on"
        );
    }
}

#[test]
fn the_service_reaches_the_server() {
    for overlay in OVERLAYS {
        let rendered = render(overlay);
        let server = rendered.deployment("scaleboard-server");
        let [service] = rendered.services.as_slice() else {
            panic!("overlay {overlay}: expected one Service");
        };
        let spec = service.spec.as_ref().unwrap();
        let labels = rendered
            .template(server)
            .metadata
            .as_ref()
            .and_then(|m| m.labels.clone())
            .unwrap_or_default();
        assert!(
            labels_match(spec.selector.as_ref().unwrap(), &labels),
            "overlay {overlay}: the Service does not select the server's pods"
        );
        let container = rendered.container(server, "server");
        let addr: std::net::SocketAddr = rendered
            .direct_env(container, "SCALEBOARD_ADDR")
            .value
            .as_deref()
            .unwrap()
            .parse()
            .unwrap();
        for port in spec.ports.iter().flatten() {
            let target = match &port.target_port {
                Some(k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::String(name)) => {
                    container
                        .ports
                        .iter()
                        .flatten()
                        .find(|p| p.name.as_deref() == Some(name.as_str()))
                        .unwrap_or_else(|| {
                            panic!("overlay {overlay}: no container port named {name}")
                        })
                        .container_port
                }
                Some(k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::Int(number)) => {
                    *number
                }
                None => port.port,
            };
            assert_eq!(
                target,
                i32::from(addr.port()),
                "overlay {overlay}: the Service sends traffic where the server does not listen"
            );
        }
    }
}
