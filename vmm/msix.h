/* SPDX-License-Identifier: GPL-2.0 */
#ifndef UVMM_MSIX_H
#define UVMM_MSIX_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

/*
 * MSI-X (PCI 3.0, 6.8.2): the capability's control word, the vector table
 * and the pending-bit array of one function. The table is plain state; the
 * owner decides what a vector means (a KVM route, irqfds) and is told when
 * one changes through msix_ops.
 */
#define PCI_CAP_ID_MSIX	     0x11
#define MSIX_CAP_LEN	     12
#define MSIX_CTRL_ENABLE     0x8000
#define MSIX_CTRL_MASKALL    0x4000
#define MSIX_ENTRY_SIZE	     16
#define MSIX_ENTRY_CTRL_MASK 1u
#define MSIX_MAX_VECTORS     64
#define MSIX_NO_VECTOR	     0xffff

struct msix_entry {
	uint32_t addr_lo, addr_hi, data, ctrl;
};

struct msix_ops {
	/* A vector's address, data or effective mask changed (vector ~0u: all). */
	void (*changed)(void *ctx, unsigned vector);
	/* Whether the source behind a vector is pending right now (PBA reads). */
	bool (*pending)(void *ctx, unsigned vector);
};

struct msix {
	unsigned nr;
	uint16_t ctrl;
	struct msix_entry table[MSIX_MAX_VECTORS];
	uint64_t pba; /* pending interrupts the owner raised while masked */
	const struct msix_ops *ops;
	void *ctx;
};

void msix_init(struct msix *m, unsigned nr, const struct msix_ops *ops, void *ctx);
/* Back to the power-on state: every vector masked, MSI-X disabled. */
void msix_reset(struct msix *m);
/* Writes the capability (at cap) and its writable bits into config space. */
void msix_cap_fill(const struct msix *m, uint8_t *cfg, uint8_t *wmask, unsigned cap, unsigned next,
		   unsigned bar, uint32_t table_off, uint32_t pba_off);
/* The guest wrote the control word. */
void msix_set_ctrl(struct msix *m, uint16_t ctrl);
/* Accesses relative to the table or the PBA; odd sizes read 0 and are dropped. */
void msix_table_read(struct msix *m, uint64_t off, void *data, unsigned len);
void msix_table_write(struct msix *m, uint64_t off, const void *data, unsigned len);
void msix_pba_read(struct msix *m, uint64_t off, void *data, unsigned len);
/* Whether vector v would be delivered now (enabled, neither it nor the function masked). */
bool msix_vector_live(const struct msix *m, unsigned v);
uint64_t msix_vector_addr(const struct msix *m, unsigned v);

/*
 * KVM's side of MSI: GSI routes (KVM_SET_GSI_ROUTING replaces the whole
 * table, so the default irqchip routes of GSIs 0-23 are kept in it), irqfds
 * and KVM_SIGNAL_MSI. One per VM, shared by every device; thread-safe.
 */
#define KVM_MSI_MAX_ROUTES 512

struct kvm_msi_chip {
	int vm_fd;
	pthread_mutex_t lock;
	unsigned nr;	   /* MSI GSIs handed out so far */
	unsigned gsi_base; /* first MSI GSI (after the IOAPIC pins) */
	struct {
		uint64_t addr;
		uint32_t data;
		bool valid;
	} routes[KVM_MSI_MAX_ROUTES];
};

int kvm_msi_chip_init(struct kvm_msi_chip *c, int vm_fd, unsigned gsi_base);
void kvm_msi_chip_exit(struct kvm_msi_chip *c);
/* Returns a new GSI or -ENOSPC. */
int kvm_msi_gsi_alloc(struct kvm_msi_chip *c);
int kvm_msi_gsi_route(struct kvm_msi_chip *c, unsigned gsi, uint64_t addr, uint32_t data);
int kvm_msi_irqfd(struct kvm_msi_chip *c, unsigned gsi, int fd, bool assign);
int kvm_msi_signal(struct kvm_msi_chip *c, uint64_t addr, uint32_t data);

#endif
