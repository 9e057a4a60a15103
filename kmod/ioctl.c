// SPDX-License-Identifier: GPL-2.0
/* The ioctl ABI of include/uapi/linux/hpalloc.h. */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/fs.h>
#include <uapi/linux/hpalloc.h>

#include "internal.h"

long hpa_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	return -ENOTTY;
}
