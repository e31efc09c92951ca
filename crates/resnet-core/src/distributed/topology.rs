//! Where this process stands in a data-parallel run, by torchrun's conventions: `RANK`,
//! `WORLD_SIZE`, `LOCAL_RANK`, `MASTER_ADDR`, `MASTER_PORT`. torchrun, SLURM wrappers,
//! Kubeflow's PyTorchJob and `resnet train --nproc-per-node` all set them.
use crate::error::{Error, Result};
use std::time::Duration;

/// How long a rank waits for its peers (to arrive, or to answer a collective) before the run
/// fails with `ERR_DISTRIBUTED`. torch.distributed waits 30 minutes for Gloo; a dead peer
/// should not hold a cluster that long, and nothing in a step takes minutes.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(300);

/// One rank's place in the run.
#[derive(Debug, Clone, PartialEq)]
pub struct Topology {
    pub rank: usize,
    pub world_size: usize,
    /// The rank among this machine's processes: which GPU it takes (`cuda:LOCAL_RANK`).
    pub local_rank: usize,
    pub master_addr: String,
    pub master_port: u16,
    /// Set when a launcher's agent hosts the rendezvous store (torchrun sets
    /// `TORCHELASTIC_USE_AGENT_STORE`): every rank connects to it under this prefix, as
    /// torch.distributed does. `None`: rank 0 hosts it.
    pub agent_store_prefix: Option<String>,
    /// The network interface Gloo binds (`GLOO_SOCKET_IFNAME`); `None`: the one the
    /// machine's hostname resolves to, or loopback.
    pub interface: Option<String>,
    pub timeout: Duration,
    /// What moves CUDA tensors (`RESNET_NAPI_DISTRIBUTED_BACKEND`: "nccl", the default, or
    /// "gloo"). CPU tensors always go through Gloo.
    pub cuda_backend: CudaBackend,
}

/// The c10d backend for CUDA tensors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CudaBackend {
    /// NVIDIA's collectives, GPU to GPU (Gloo stands in for it in a build without NCCL).
    Nccl,
    /// Through host memory: slower, but needs nothing of the GPUs' interconnect.
    Gloo,
}

impl Topology {
    /// The topology the environment describes, or `None` when `WORLD_SIZE` is unset (a plain,
    /// single-process run).
    pub fn from_env() -> Result<Option<Topology>> {
        Topology::from_vars(|name| std::env::var(name).ok())
    }

    /// As `from_env`, reading variables through `var`.
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Option<Topology>> {
        let Some(world_size) = var("WORLD_SIZE") else { return Ok(None) };
        let number = |name: &str, text: &str| -> Result<usize> {
            text.trim().parse::<usize>().map_err(|_| {
                Error::InvalidOption(format!("Expected a whole number in the environment variable {name} but received {text:?}"))
            })
        };
        let required = |name: &str| -> Result<String> {
            var(name).ok_or_else(|| {
                Error::InvalidOption(format!(
                    "Expected the environment variable {name} in a distributed run (WORLD_SIZE is set) but it is unset; \
                     launch with torchrun or set RANK, WORLD_SIZE, MASTER_ADDR and MASTER_PORT"
                ))
            })
        };
        let world_size = number("WORLD_SIZE", &world_size)?;
        let rank = number("RANK", &required("RANK")?)?;
        let master_port = number("MASTER_PORT", &required("MASTER_PORT")?)?;
        let topology = Topology {
            rank,
            world_size,
            local_rank: match var("LOCAL_RANK") {
                Some(text) => number("LOCAL_RANK", &text)?,
                None => rank,
            },
            master_addr: required("MASTER_ADDR")?,
            master_port: u16::try_from(master_port).map_err(|_| {
                Error::InvalidOption(format!("Expected a port from 1 to 65535 in MASTER_PORT but received {master_port}"))
            })?,
            agent_store_prefix: match var("TORCHELASTIC_USE_AGENT_STORE").as_deref() {
                Some("True") | Some("true") | Some("1") => {
                    Some(format!("/worker/attempt_{}", var("TORCHELASTIC_RESTART_COUNT").unwrap_or_else(|| "0".into())))
                }
                _ => None,
            },
            interface: var("GLOO_SOCKET_IFNAME").filter(|name| !name.is_empty()),
            timeout: DEFAULT_TIMEOUT,
            cuda_backend: match var("RESNET_NAPI_DISTRIBUTED_BACKEND").as_deref() {
                None | Some("") | Some("nccl") => CudaBackend::Nccl,
                Some("gloo") => CudaBackend::Gloo,
                Some(other) => {
                    return Err(Error::InvalidOption(format!(
                        "Expected \"nccl\" or \"gloo\" in RESNET_NAPI_DISTRIBUTED_BACKEND but received {other:?}"
                    )))
                }
            },
        };
        topology.validate()?;
        Ok(Some(topology))
    }

    pub fn validate(&self) -> Result<()> {
        if self.world_size == 0 {
            return Err(Error::InvalidOption("Expected WORLD_SIZE of at least 1 but received 0".into()));
        }
        if self.rank >= self.world_size {
            return Err(Error::InvalidOption(format!(
                "Expected RANK below WORLD_SIZE ({}) but received {}",
                self.world_size, self.rank
            )));
        }
        if self.master_port == 0 {
            return Err(Error::InvalidOption("Expected a port from 1 to 65535 in MASTER_PORT but received 0".into()));
        }
        if self.timeout.is_zero() {
            return Err(Error::InvalidOption("Expected a distributed timeout above 0 seconds but received 0".into()));
        }
        Ok(())
    }

    /// Whether this rank writes the run's files and emits its events.
    pub fn is_leader(&self) -> bool {
        self.rank == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn vars(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |name| map.get(name).cloned()
    }

    #[test]
    fn no_world_size_is_a_plain_run() {
        assert_eq!(Topology::from_vars(vars(&[("RANK", "0")])).unwrap(), None);
    }

    #[test]
    fn torchrun_variables_are_read() {
        let topology = Topology::from_vars(vars(&[
            ("WORLD_SIZE", "4"),
            ("RANK", "3"),
            ("LOCAL_RANK", "1"),
            ("MASTER_ADDR", "10.0.0.1"),
            ("MASTER_PORT", "29500"),
            ("TORCHELASTIC_USE_AGENT_STORE", "True"),
            ("TORCHELASTIC_RESTART_COUNT", "2"),
        ]))
        .unwrap()
        .unwrap();
        assert_eq!((topology.rank, topology.world_size, topology.local_rank), (3, 4, 1));
        assert_eq!(topology.agent_store_prefix.as_deref(), Some("/worker/attempt_2"));
        assert!(!topology.is_leader());
    }

    #[test]
    fn missing_or_wrong_variables_say_which() {
        let error = Topology::from_vars(vars(&[("WORLD_SIZE", "2"), ("RANK", "0"), ("MASTER_PORT", "29500")])).unwrap_err();
        assert!(error.to_string().contains("MASTER_ADDR"), "{error}");
        let error =
            Topology::from_vars(vars(&[("WORLD_SIZE", "2"), ("RANK", "2"), ("MASTER_ADDR", "x"), ("MASTER_PORT", "1")])).unwrap_err();
        assert!(error.to_string().contains("RANK below WORLD_SIZE"), "{error}");
        let error =
            Topology::from_vars(vars(&[("WORLD_SIZE", "two"), ("RANK", "0"), ("MASTER_ADDR", "x"), ("MASTER_PORT", "1")])).unwrap_err();
        assert!(error.to_string().contains("WORLD_SIZE"), "{error}");
    }
}
