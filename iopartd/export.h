/* SPDX-License-Identifier: GPL-2.0 */
#ifndef UV_IOPART_EXPORT_H
#define UV_IOPART_EXPORT_H

#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/un.h>

#include "console.h"

/*
 * What an I/O partition serves on one channel: a device and its options.
 * iopartd builds these from --export; uvmm builds them from --disk, --net,
 * --rng and --virtio-console for the in-process mode (see inproc.h).
 */
enum iopart_kind {
	IOPART_BLK,
	IOPART_NET,
	IOPART_RNG,
	IOPART_CONSOLE,
};

/* vhost-user-blk: the image format; AUTO detects it from the header. */
enum iopart_format {
	IOPART_FMT_AUTO,
	IOPART_FMT_RAW,
	IOPART_FMT_QCOW2,
};

#define IOPART_SERIAL_LEN     20 /* VIRTIO_BLK_ID_BYTES */
#define IOPART_MAX_QUEUES     8	 /* virtio-blk request queues per disk */
#define IOPART_MAX_QUEUES_STR "8"

struct iopart_export {
	enum iopart_kind kind;
	/* vhost-user listening socket; empty for the in-process mode */
	char socket[sizeof(((struct sockaddr_un *)0)->sun_path)];

	/* vhost-user-blk: the image; vhost-user-console: the socket or file of the endpoint */
	char path[4096];
	bool readonly;
	bool direct;	     /* O_DIRECT */
	unsigned num_queues; /* 1..IOPART_MAX_QUEUES */
	char serial[IOPART_SERIAL_LEN + 1];
	enum iopart_format format;

	/* vhost-user-net */
	char tap[IFNAMSIZ];
	bool has_mac;
	uint8_t mac[6];

	/* vhost-user-console: the host end (CONSOLE_PTY, _UNIX or _FILE) */
	bool has_console;
	enum console_kind console;
};

/*
 * "vhost-user-blk,path=IMG,socket=SOCK[,readonly=on][,direct=on]
 *  [,num-queues=N][,serial=S][,format=raw|qcow2]", "vhost-user-net,tap=IFNAME,socket=SOCK
 *  [,mac=52:54:00:12:34:56]", "vhost-user-rng,socket=SOCK" or
 * "vhost-user-console,socket=SOCK,console=pty|unix:PATH|file:PATH". Returns 0, or
 * -EINVAL with a message naming the bad key in err. Files are not opened.
 */
int iopart_export_parse(const char *spec, struct iopart_export *e, char *err, size_t errlen);
/*
 * An adopted channel's device (iopartd --name, docs/iopartd.md "Suite mode"):
 * the same syntax without socket=, which it refuses.
 */
int iopart_export_parse_channel(const char *spec, struct iopart_export *e, char *err,
				size_t errlen);
/* uvmm's --disk: "PATH[,readonly=on][,direct=on][,num-queues=N][,serial=S][,format=F]". */
int iopart_export_parse_disk(const char *spec, struct iopart_export *e, char *err, size_t errlen);
/* uvmm's --net: "tap=IFNAME[,mac=XX:XX:XX:XX:XX:XX]". */
int iopart_export_parse_net(const char *spec, struct iopart_export *e, char *err, size_t errlen);
/* uvmm's --rng: no options. */
void iopart_export_init_rng(struct iopart_export *e);
/* uvmm's --virtio-console: "pty", "unix:PATH" or "file:PATH". */
int iopart_export_parse_console(const char *spec, struct iopart_export *e, char *err,
				size_t errlen);

const char *iopart_kind_name(enum iopart_kind kind);

#endif
