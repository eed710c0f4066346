/* fuzz.h — the libFuzzer entry point every tests/fuzz/fuzz_*.c defines.
 *
 * Built two ways: with clang -fsanitize=fuzzer (make fuzz), and with any
 * compiler against replay_main.c, which feeds it the seed corpus (make test). */
#ifndef AP_FUZZ_H
#define AP_FUZZ_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
