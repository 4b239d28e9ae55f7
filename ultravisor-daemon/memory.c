// SPDX-License-Identifier: GPL-2.0
/* Guest memory: the pool's default size and the memfds handed out. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "log.h"
#include "uvd.h"

/* A "Key:   N kB" line of /proc/meminfo, in kB; -1 when absent. */
static long long meminfo_kb(const char *key)
{
	FILE *f = fopen("/proc/meminfo", "re");
	size_t klen = strlen(key);
	long long v = -1;
	char line[256];

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, key, klen) && line[klen] == ':') {
			v = atoll(line + klen + 1);
			break;
		}
	}
	fclose(f);
	return v;
}

uint64_t uvd_pool_default_mib(void)
{
	long long kb = meminfo_kb("MemTotal");

	return kb > 0 ? (uint64_t)kb * 8 / 10 / 1024 : 0;
}

/* The default huge page size and how many bytes of them are free to reserve. */
static int huge_free(uint64_t *page, uint64_t *free_bytes)
{
	long long sz = meminfo_kb("Hugepagesize"), nfree = meminfo_kb("HugePages_Free");
	long long rsvd = meminfo_kb("HugePages_Rsvd");

	if (sz <= 0 || nfree < 0)
		return -ENOENT;
	if (rsvd > 0)
		nfree = nfree > rsvd ? nfree - rsvd : 0;
	*page = (uint64_t)sz * 1024;
	*free_bytes = (uint64_t)nfree * *page;
	return 0;
}

int uvd_memory_alloc(const char *name, uint64_t memory_mib, bool hugepages, char *err,
		     size_t errlen)
{
	uint64_t size = memory_mib << 20, page, avail;
	unsigned flags = MFD_CLOEXEC | MFD_ALLOW_SEALING;
	char mname[UVD_NAME_MAX + 16];
	int fd, ret;

	if (hugepages) {
		/* hugetlbfs reserves at mmap, not at ftruncate: check before promising. */
		if (huge_free(&page, &avail)) {
			snprintf(err, errlen, "huge pages: the host has none configured");
			return -ENOSPC;
		}
		if (size % page) {
			snprintf(err, errlen,
				 "huge pages: %llu MiB is not a multiple of the %llu kB page",
				 (unsigned long long)memory_mib, (unsigned long long)(page >> 10));
			return -EINVAL;
		}
		if (size > avail) {
			snprintf(err, errlen, "huge pages: %llu MiB asked, %llu MiB free",
				 (unsigned long long)memory_mib, (unsigned long long)(avail >> 20));
			return -ENOSPC;
		}
		flags |= MFD_HUGETLB;
	}
	snprintf(mname, sizeof(mname), "uv-guest:%s", name);
	fd = memfd_create(mname, flags);
	if (fd < 0) {
		ret = -errno;
		snprintf(err, errlen, "memfd_create: %s", strerror(errno));
		return ret;
	}
	if (ftruncate(fd, (off_t)size)) {
		ret = -errno;
		snprintf(err, errlen, "memory of %llu MiB: %s", (unsigned long long)memory_mib,
			 strerror(errno));
		close(fd);
		return ret;
	}
	/* Everybody maps it whole: a shrink would turn their accesses into SIGBUS. */
	if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL))
		pr_debug("%s: cannot seal its size: %s", mname, strerror(errno));
	return fd;
}

uint64_t uvd_pid_start(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long long start = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	p = fgets(buf, sizeof(buf), f);
	fclose(f);
	/* comm may hold spaces and parentheses: fields count from the last ')'. */
	if (!p || !(p = strrchr(buf, ')')))
		return 0;
	if (sscanf(p + 2,
		   "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d "
		   "%*d %*d %llu",
		   &start) != 1)
		return 0;
	return start;
}

bool uvd_pid_alive(pid_t pid, uint64_t start)
{
	uint64_t now;

	if (pid <= 0 || (kill(pid, 0) && errno == ESRCH))
		return false;
	now = uvd_pid_start(pid);
	/* Same pid, later start: somebody else got the number. */
	return !start || !now || now == start;
}
