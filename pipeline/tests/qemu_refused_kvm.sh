#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# In the test guest: configurations QEMU must refuse even though KVM offers
# everything (qemu_refused.sh kvm).
exec bash "$(dirname "$0")/qemu_refused.sh" kvm
