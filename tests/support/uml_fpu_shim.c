/*
 * LD_PRELOAD'ed into linux.uml by tests/support/pppd.rs.
 *
 * Why: UML (6.1 and 6.12 alike) saves and restores its guests' FPU state
 * with PTRACE_{GET,SET}REGSET NT_X86_XSTATE in a buffer of fixed size.
 * A host whose XSAVE area is larger (AVX-512, AMX) refuses the set with
 * EFAULT ("userspace - ptrace set fp regs failed, errno = 14") and the
 * guest's init dies. Failing the XSTATE regset makes UML fall back to
 * the legacy FXSR regs, which every x86-64 host takes; the guest is then
 * kept off the AVX registers (GLIBC_TUNABLES on the kernel command line)
 * whose upper halves FXSR does not carry.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

#define NT_X86_XSTATE 0x202

long ptrace(enum __ptrace_request req, ...)
{
	va_list ap;
	va_start(ap, req);
	pid_t pid = va_arg(ap, pid_t);
	void *addr = va_arg(ap, void *);
	void *data = va_arg(ap, void *);
	va_end(ap);

	if ((req == PTRACE_GETREGSET || req == PTRACE_SETREGSET) &&
	    (long)addr == NT_X86_XSTATE) {
		errno = EIO;
		return -1;
	}
	/* glibc's wrapper returns the word the PEEK requests read. */
	if (req == PTRACE_PEEKTEXT || req == PTRACE_PEEKDATA ||
	    req == PTRACE_PEEKUSER) {
		long word;
		if (syscall(SYS_ptrace, req, pid, addr, &word) < 0)
			return -1;
		errno = 0;
		return word;
	}
	return syscall(SYS_ptrace, req, pid, addr, data);
}
