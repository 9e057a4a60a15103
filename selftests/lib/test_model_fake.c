// SPDX-License-Identifier: GPL-2.0
/* The randomized model test over the fake primitive layer. */
#define MODEL_FAKE 1
#include "test_model.c"
