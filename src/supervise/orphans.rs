//! Ending what a command left running: the orphans re-parented to the runner (a child
//! subreaper) and every process left in a namespace the run owns.

use std::fs;
use std::path::Path;
use std::thread;
use std::time::Duration;

use libcni::netns;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

/// SIGKILLs and reaps the processes re-parented to us (we are a child subreaper): whatever
/// the command left running. Only called when no plugin runs, so every child but those in
/// `keep` is the command's; each is reaped by PID, never with a wildcard wait.
pub(crate) fn kill_orphans(keep: &[i32]) {
    for _ in 0..100 {
        // No child at all (the usual case for root): nothing to list.
        if !has_children() {
            return;
        }
        let mut orphans = own_children();
        orphans.retain(|p| !keep.contains(p));
        if orphans.is_empty() {
            return;
        }
        for pid in orphans {
            let pid = Pid::from_raw(pid);
            let _ = kill(pid, Signal::SIGKILL);
            let _ = nix::sys::wait::waitpid(pid, None);
        }
    }
}

/// Whether this process has any child, running or not yet reaped (`waitid` without
/// reaping: ECHILD means none).
fn has_children() -> bool {
    use nix::sys::wait::{waitid, Id, WaitPidFlag};
    !matches!(
        waitid(
            Id::All,
            WaitPidFlag::WEXITED
                | WaitPidFlag::WNOHANG
                | WaitPidFlag::WNOWAIT
                | WaitPidFlag::__WALL
        ),
        Err(nix::errno::Errno::ECHILD)
    )
}

/// This process's children: each thread's `/proc/self/task/<tid>/children` (a few small
/// reads; orphans are re-parented to one of our threads), or, on kernels built without
/// `CONFIG_PROC_CHILDREN`, a walk of every process's stat.
fn own_children() -> Vec<i32> {
    if !Path::new("/proc/thread-self/children").exists() {
        return children_of(std::process::id() as i32);
    }
    let Ok(tasks) = fs::read_dir("/proc/self/task") else {
        return children_of(std::process::id() as i32);
    };
    let mut out = Vec::new();
    for task in tasks.flatten() {
        // A thread that ended since the listing has no file any more, and no children.
        if let Ok(list) = fs::read_to_string(task.path().join("children")) {
            out.extend(
                list.split_whitespace()
                    .filter_map(|p| p.parse::<i32>().ok()),
            );
        }
    }
    out
}

/// The PIDs whose parent is `ppid` (`/proc/<pid>/stat` field 4).
fn children_of(ppid: i32) -> Vec<i32> {
    let Ok(rd) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    rd.flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
                stat.rfind(')')
                    .and_then(|i| stat[i + 1..].split_whitespace().nth(1)?.parse::<i32>().ok())
                    == Some(ppid)
            })
        })
        .collect()
}

/// SIGKILLs every process in the namespace until none is left (a command's background
/// children must not keep the namespace, or hold its addresses, after DEL).
pub fn kill_namespace_processes(path: &Path) {
    let Ok(id) = netns::identify(path) else {
        return;
    };
    for _ in 0..100 {
        let pids = netns::processes_in(id);
        if pids.is_empty() {
            return;
        }
        for pid in pids {
            let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
        }
        thread::sleep(Duration::from_millis(10));
    }
}
