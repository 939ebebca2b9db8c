//! Resident memory of a process, from `/proc/<pid>/status`.

use crate::error::BenchError;

/// `VmRSS` and `VmHWM` (the peak) of a process, in KiB.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rss {
    /// Resident set size now.
    pub rss_kib: u64,
    /// Highest resident set size so far.
    pub peak_kib: u64,
}

impl std::fmt::Display for Rss {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "VmRSS {:.1} MiB (peak VmHWM {:.1} MiB)",
            self.rss_kib as f64 / 1024.0,
            self.peak_kib as f64 / 1024.0
        )
    }
}

/// Reads the RSS of process `pid`.
///
/// # Errors
/// [`BenchError::Rss`] when the file cannot be read (no such process) or
/// lacks the `VmRSS` line.
pub fn read(pid: u32) -> Result<Rss, BenchError> {
    let status =
        std::fs::read_to_string(format!("/proc/{pid}/status")).map_err(|e| BenchError::Rss {
            pid,
            reason: e.to_string(),
        })?;
    parse(&status).ok_or_else(|| BenchError::Rss {
        pid,
        reason: "no VmRSS line (a kernel thread?)".to_owned(),
    })
}

fn parse(status: &str) -> Option<Rss> {
    let field = |name: &str| {
        status.lines().find_map(|line| {
            let value = line.strip_prefix(name)?.strip_prefix(':')?;
            value.trim().strip_suffix("kB")?.trim().parse::<u64>().ok()
        })
    };
    let rss_kib = field("VmRSS")?;
    Some(Rss {
        rss_kib,
        peak_kib: field("VmHWM").unwrap_or(rss_kib),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vm_rss_and_hwm_are_read_in_kib() {
        let status = "Name:\tmessenger-api\nVmPeak:\t  900000 kB\nVmHWM:\t   20480 kB\nVmRSS:\t   10240 kB\n";
        let rss = parse(status).unwrap();
        assert_eq!(
            rss,
            Rss {
                rss_kib: 10240,
                peak_kib: 20480
            }
        );
        assert_eq!(rss.to_string(), "VmRSS 10.0 MiB (peak VmHWM 20.0 MiB)");
    }

    #[test]
    fn a_status_without_vm_rss_is_none() {
        assert_eq!(parse("Name:\tkthreadd\nState:\tS\n"), None);
    }

    #[test]
    fn this_process_has_an_rss() {
        let rss = read(std::process::id()).unwrap();
        assert!(rss.rss_kib > 0);
    }
}
