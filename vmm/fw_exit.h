/* SPDX-License-Identifier: GPL-2.0 */
#ifndef UVMM_FW_EXIT_H
#define UVMM_FW_EXIT_H

#include <stdint.h>

#include "bus.h"

/*
 * The firmware's exit device: a 32-bit write of a code to PORT_FW_EXIT ends
 * the VM (guest-firmware/runtime/rt.h has the codes). Present only when
 * uvmm runs the firmware; a Linux guest never sees it.
 */
struct fw_exit;

enum fw_exit_code {
	FW_EXIT_PASS = 0,
	FW_EXIT_NOBOOT = 1,
	FW_EXIT_BOOTFAIL = 2,
	FW_EXIT_TESTFAIL = 3,
};

/* exit(ctx, status, why): status is uvmm's exit status for the code. */
struct fw_exit *fw_exit_create(void (*exit)(void *ctx, int status, const char *why), void *ctx);
void fw_exit_destroy(struct fw_exit *fe);
int fw_exit_attach(struct fw_exit *fe, struct bus *pio, uint16_t port);
/* uvmm's exit status for a code, and what it means. */
int fw_exit_status(uint32_t code, const char **why);

#endif
