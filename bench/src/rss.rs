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

/// CPU time (user + system) process `pid` has used so far, in seconds, from
/// `/proc/<pid>/stat` (clock ticks of 1/100 s, the Linux `USER_HZ`).
///
/// # Errors
/// [`BenchError::Rss`] when the file cannot be read or parsed.
pub fn cpu_seconds(pid: u32) -> Result<f64, BenchError> {
    let stat =
        std::fs::read_to_string(format!("/proc/{pid}/stat")).map_err(|e| BenchError::Rss {
            pid,
            reason: e.to_string(),
        })?;
    parse_cpu(&stat).ok_or_else(|| BenchError::Rss {
        pid,
        reason: "no CPU times in /proc/<pid>/stat".to_owned(),
    })
}

fn parse_cpu(stat: &str) -> Option<f64> {
    // The command name, in parentheses, may hold spaces: count fields after its end.
    let after_name = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // Fields 14 and 15 of the file (utime, stime) are the 12th and 13th after the name.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) as f64 / 100.0)
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
    fn cpu_times_are_read_after_the_command_name() {
        let stat = "42 (messenger api) S 1 42 42 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 4 0";
        assert_eq!(parse_cpu(stat), Some(3.0));
        assert_eq!(parse_cpu("42 (x) S"), None);
        assert!(cpu_seconds(std::process::id()).is_ok());
    }

    #[test]
    fn this_process_has_an_rss() {
        let rss = read(std::process::id()).unwrap();
        assert!(rss.rss_kib > 0);
    }
}
