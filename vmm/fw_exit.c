// SPDX-License-Identifier: GPL-2.0
#include <stdlib.h>
#include <string.h>

#include "fw_exit.h"
#include "vm.h"

struct fw_exit {
	void (*exit)(void *ctx, int status, const char *why);
	void *ctx;
};

int fw_exit_status(uint32_t code, const char **why)
{
	switch (code) {
	case FW_EXIT_PASS:
		*why = "firmware: done";
		return VM_EXIT_POWEROFF;
	case FW_EXIT_NOBOOT:
		*why = "firmware: nothing to boot";
		return VM_EXIT_FW_NOBOOT;
	case FW_EXIT_BOOTFAIL:
		*why = "firmware: boot failed";
		return VM_EXIT_FW_BOOTFAIL;
	case FW_EXIT_TESTFAIL:
		*why = "firmware: self-test failed";
		return VM_EXIT_FW_TESTFAIL;
	}
	*why = "firmware: unknown exit code";
	return VM_EXIT_CRASH;
}

static void fw_exit_read(void *opaque, uint64_t off, void *data, unsigned len)
{
	(void)opaque;
	(void)off;
	memset(data, 0xff, len);
}

static void fw_exit_write(void *opaque, uint64_t off, const void *data, unsigned len)
{
	struct fw_exit *fe = opaque;
	uint32_t code = 0;
	const char *why;
	int status;

	/* Only a whole 32-bit write is a request; a stray byte is ignored. */
	if (off || len != 4)
		return;
	memcpy(&code, data, 4);
	status = fw_exit_status(code, &why);
	fe->exit(fe->ctx, status, why);
}

static const struct bus_ops fw_exit_ops = {
	.read = fw_exit_read,
	.write = fw_exit_write,
};

struct fw_exit *fw_exit_create(void (*exit)(void *ctx, int status, const char *why), void *ctx)
{
	struct fw_exit *fe = calloc(1, sizeof(*fe));

	if (fe) {
		fe->exit = exit;
		fe->ctx = ctx;
	}
	return fe;
}

void fw_exit_destroy(struct fw_exit *fe)
{
	free(fe);
}

int fw_exit_attach(struct fw_exit *fe, struct bus *pio, uint16_t port)
{
	return bus_register(pio, port, 4, &fw_exit_ops, fe);
}
