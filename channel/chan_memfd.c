// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "chan_mem.h"

#define CHAN_MEMFD_SEALS (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL)

int chan_memfd_create(const char *name, uint64_t size, bool hugepages)
{
	unsigned flags = MFD_CLOEXEC | MFD_ALLOW_SEALING | (hugepages ? MFD_HUGETLB : 0);
	int fd, err;

	fd = memfd_create(name, flags);
	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)size) < 0 || fcntl(fd, F_ADD_SEALS, CHAN_MEMFD_SEALS) < 0) {
		err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

int chan_memfd_check(int fd, uint64_t off, uint64_t len)
{
	struct stat st;
	int seals;

	/*
	 * We map it, and a file that shrinks under a mapping turns our next
	 * access into SIGBUS: one hostile front end would kill the daemon
	 * serving everyone. Only a seal rules that out; a size check cannot.
	 */
	seals = fcntl(fd, F_GET_SEALS);
	if (seals < 0 || !(seals & F_SEAL_SHRINK))
		return -EPERM;
	if (fstat(fd, &st))
		return -errno;
	if (off + len < off || (uint64_t)st.st_size < off + len)
		return -ERANGE;
	return 0;
}

const char *chan_memfd_strerror(int err)
{
	switch (err) {
	case -EPERM:
		return "not a memfd sealed against shrinking (F_SEAL_SHRINK)";
	case -ERANGE:
		return "the range lies past the end of the file";
	default:
		return "cannot inspect the file";
	}
}
