// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer target for the qcow2 header and table parsing of iopartd. The
 * input is the image file. It is opened read-only as a probed image (so a
 * backing file is refused, never opened), and a few clusters of the virtual
 * disk are read; then, with small clusters, it is opened writable and a
 * write goes through allocation. ASan watches every table walk.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "qcow2.h"

static void fuzz_reads(struct qcow2 *q, uint8_t *buf)
{
	uint64_t size = qcow2_size(q), cs = qcow2_cluster_size(q);
	uint64_t offs[] = {0, cs - 512, cs, size / 2, size > 4096 ? size - 4096 : 0};

	for (unsigned i = 0; i < sizeof(offs) / sizeof(offs[0]); i++) {
		uint64_t host, n;
		size_t len = 4096;

		if (offs[i] >= size)
			continue;
		if (len > size - offs[i])
			len = size - offs[i];
		qcow2_map(q, offs[i], len, false, &host, &n);
		qcow2_read(q, offs[i], buf, len);
	}
}

static void fuzz_write(int fd, uint8_t *buf)
{
	struct qcow2 *q;
	char err[256];

	if (qcow2_open(&q, fd, "fuzz", false, true, err, sizeof(err)))
		return;
	if (qcow2_cluster_size(q) <= 65536 && qcow2_size(q) >= 8192) {
		qcow2_write(q, 512, buf, 1024);
		qcow2_write(q, qcow2_size(q) / 2 & ~511ull, NULL, 4096);
		fuzz_reads(q, buf);
	}
	qcow2_close(q);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t buf[4096];
	struct qcow2 *q;
	char err[256];
	int fd = memfd_create("fuzz_qcow2", MFD_CLOEXEC);

	if (fd < 0)
		return 0;
	if (write(fd, data, size) != (ssize_t)size) {
		close(fd);
		return 0;
	}
	if (!qcow2_open(&q, fd, "fuzz", true, true, err, sizeof(err))) {
		fuzz_reads(q, buf);
		qcow2_close(q);
		fuzz_write(fd, buf);
	}
	close(fd);
	return 0;
}
