/* SPDX-License-Identifier: GPL-2.0 */
#ifndef FW_RT_LINUX_H
#define FW_RT_LINUX_H

#include "rt.h"

/* A bzImage read into memory, and where it will run. */
struct linux_image {
	const uint8_t *file;
	uint64_t file_size;
	uint16_t version;
	uint64_t setup_size; /* real-mode part, skipped */
	uint64_t pm_size;    /* protected-mode part, moved to load_addr */
	uint64_t load_addr;
	uint32_t init_size; /* memory it needs from load_addr */
	uint32_t initrd_max;
	uint32_t cmdline_max;
};

int linux_check(struct linux_image *k, char *msg, size_t cap);
/* Never returns: the kernel owns the machine from here. */
__attribute__((noreturn)) void linux_boot(const struct linux_image *k, const void *fw_bp,
					  uint64_t initrd, uint64_t initrd_size,
					  const char *cmdline);

#endif
