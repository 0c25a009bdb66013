#!/usr/bin/python3
"""Runs a command under the seccomp filters that a systemd unit declares, for tests where systemd is not PID 1.

Usage: seccomp-exec.py UNIT-FILE -- COMMAND [ARG...]

It reads the unit's SystemCallFilter= lines (groups resolved by `systemd-analyze syscall-filter`, the same tables
systemd uses), SystemCallErrorNumber= and MemoryDenyWriteExecute=, loads the equivalent filters with libseccomp
(python3-seccomp) and execs COMMAND. Run it as the service's user (setpriv ... -- seccomp-exec.py ...). So a test
sees what the service would see: a system call outside the allow list fails with the unit's errno, and so does a
mapping that is writable and executable (what a JIT needs).

MemoryDenyWriteExecute= follows systemd 252's seccomp_memory_deny_write_execute(): mmap with PROT_WRITE|PROT_EXEC,
mprotect and pkey_mprotect with PROT_EXEC, and shmat with SHM_EXEC fail with EPERM.
"""

import errno
import os
import subprocess
import sys

import seccomp

PROT_WRITE = 0x2
PROT_EXEC = 0x4
SHM_EXEC = 0o100000

# systemd.exec(5), SystemCallFilter=: allowed in an allow list without being named.
IMPLIED = ["execve", "exit", "exit_group", "getrlimit", "rt_sigreturn", "sigreturn", "clock_getres",
           "clock_gettime", "clock_nanosleep", "gettimeofday", "nanosleep", "time"]


def expand(name, seen=None):
    """The system calls a SystemCallFilter= item stands for: a name, or a @group expanded recursively."""
    if not name.startswith("@"):
        return {name}
    seen = seen if seen is not None else set()
    if name in seen:
        return set()
    seen.add(name)
    out = subprocess.run(["systemd-analyze", "syscall-filter", name], capture_output=True, text=True, check=True)
    calls = set()
    for line in out.stdout.splitlines()[1:]:
        item = line.strip()
        if item and not item.startswith("#"):
            calls |= expand(item, seen)
    return calls


def parse_unit(path):
    """The unit's filter: (allow_mode, calls, errno_name, mdwe), with systemd's rules for repeated assignments."""
    allow_mode, calls, errno_name, mdwe = None, set(), "EPERM", False
    with open(path, encoding="utf-8") as unit:
        for raw in unit:
            line = raw.strip()
            key, sep, value = line.partition("=")
            if not sep or line.startswith(("#", ";")):
                continue
            if key == "SystemCallFilter":
                if not value:
                    allow_mode, calls = None, set()
                    continue
                negative = value.startswith("~")
                items = set()
                for item in value.lstrip("~").split():
                    items |= expand(item.split(":")[0])
                if allow_mode is None:
                    allow_mode = not negative
                # In an allow list a ~ line takes calls out and a plain line puts them back; in a deny list the reverse.
                if negative == allow_mode:
                    calls -= items
                else:
                    calls |= items
            elif key == "SystemCallErrorNumber":
                errno_name = value
            elif key == "MemoryDenyWriteExecute":
                mdwe = value.lower() in ("yes", "true", "on", "1")
    return allow_mode, calls, errno_name, mdwe


def add(filt, action, name, *args):
    try:
        filt.add_rule(action, name, *args)
    except (RuntimeError, ValueError, OSError):
        pass  # not a system call on this architecture (e.g. arm_fadvise64_64 on x86-64)


def main():
    if len(sys.argv) < 4 or sys.argv[2] != "--":
        sys.exit("usage: seccomp-exec.py UNIT-FILE -- COMMAND [ARG...]")
    allow_mode, calls, errno_name, mdwe = parse_unit(sys.argv[1])
    denied = seccomp.ERRNO(getattr(errno, errno_name))
    filters = []
    if allow_mode is not None:
        filt = seccomp.SyscallFilter(defaction=denied if allow_mode else seccomp.ALLOW)
        for name in sorted(calls | set(IMPLIED) if allow_mode else calls):
            add(filt, seccomp.ALLOW if allow_mode else denied, name)
        filters.append(filt)
    if mdwe:
        eperm = seccomp.ERRNO(errno.EPERM)
        filt = seccomp.SyscallFilter(defaction=seccomp.ALLOW)
        wx = PROT_WRITE | PROT_EXEC
        for name in ("mmap", "mmap2"):
            add(filt, eperm, name, seccomp.Arg(2, seccomp.MASKED_EQ, wx, wx))
        for name in ("mprotect", "pkey_mprotect"):
            add(filt, eperm, name, seccomp.Arg(2, seccomp.MASKED_EQ, PROT_EXEC, PROT_EXEC))
        add(filt, eperm, "shmat", seccomp.Arg(2, seccomp.MASKED_EQ, SHM_EXEC, SHM_EXEC))
        filters.append(filt)
    # libseccomp sets no_new_privs before loading, as systemd does for a unit with a filter. The allow list goes last:
    # it does not allow seccomp(2), so nothing could be loaded after it.
    for filt in reversed(filters):
        filt.load()
    command = sys.argv[3:]
    os.execvp(command[0], command)


if __name__ == "__main__":
    main()
