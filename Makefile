# attnprune — build, test, demo, install.
#
#   make demo          install what is missing, build, embed the default text
#   make test          build and run the whole test suite
#   make test VARIANT=asan | VARIANT=ubsan    the same under a sanitizer
#   make valgrind      the command-line tool's embed under valgrind memcheck
#   make fuzz          run every libFuzzer target (FUZZ_SECONDS each, clang)
#   make bench         embed speed against sentence-transformers, attention against
#                      torch SDPA (bench/results.csv)
#   make bench-attention  fp32 attention kernel against the reference, per head
#   make bench-peak    the machine's fp32 peak: an FMA loop and OpenBLAS sgemm
#   make bench-sim     every accelerator simulated on a 12-layer, 12-head, 512-token trace: time
#   make install       PREFIX=/usr/local: library, header, pkg-config file, tool
#
# Nothing here uses -march=native: SIMD paths are chosen at run time.

VARIANT ?= release
PREFIX ?= /usr/local
CC ?= cc
FUZZ_SECONDS ?= 120
PYTHON := .venv/bin/python

ifeq ($(VARIANT),release)
  B := build
  OPT := -O2 -g
else ifeq ($(VARIANT),asan)
  B := build-asan
  OPT := -O1 -g -fsanitize=address -fno-omit-frame-pointer
else ifeq ($(VARIANT),ubsan)
  B := build-ubsan
  OPT := -O1 -g -fsanitize=undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
else ifeq ($(VARIANT),debug)
  B := build-debug
  OPT := -O0 -g
else
  $(error VARIANT must be release, asan, ubsan or debug, not '$(VARIANT)')
endif

WARN := -std=c11 -Wall -Wextra -Wpedantic -Wshadow -Wstrict-prototypes -Wmissing-prototypes
# OpenBLAS built for OpenMP (Debian libopenblas-openmp-dev), so its GEMM threads
# and our attention threads share one OpenMP pool; with the pthreads build the
# two pools spin against each other on a 2-core machine. The rpath pins it
# whichever OpenBLAS the system's alternatives select.
MULTIARCH := $(shell $(CC) -print-multiarch 2>/dev/null)
BLAS_DIR := /usr/lib/$(MULTIARCH)/openblas-openmp
BLAS_CFLAGS := -I/usr/include/$(MULTIARCH)/openblas-openmp
BLAS_LIBS := -L$(BLAS_DIR) -Wl,-rpath,$(BLAS_DIR) -lopenblas
CPPFLAGS += -D_DEFAULT_SOURCE -Iinclude -Isrc $(BLAS_CFLAGS)
CFLAGS += $(WARN) $(OPT) -fPIC -fopenmp
LDLIBS += $(BLAS_LIBS) -lcjson -linih -lm
LDFLAGS += -fopenmp $(filter -fsanitize=%,$(OPT))

LIB_SRC := $(sort $(wildcard src/*/*.c))
TOOL_SRC := $(sort $(wildcard tools/*.c))
TEST_SRC := $(sort $(wildcard tests/unit/*.c))
FUZZ_SRC := $(sort $(wildcard tests/fuzz/fuzz_*.c))
BENCH_SRC := $(sort $(wildcard bench/*.c))

LIB_OBJ := $(LIB_SRC:%.c=$(B)/%.o)
TOOL_OBJ := $(TOOL_SRC:%.c=$(B)/%.o)
TEST_OBJ := $(TEST_SRC:%.c=$(B)/%.o)
BENCH_OBJ := $(BENCH_SRC:%.c=$(B)/%.o)
BENCH_BINS := $(BENCH_SRC:bench/%.c=$(B)/bench/%)
FUZZ_NAMES := $(FUZZ_SRC:tests/fuzz/%.c=%)

STATIC_LIB := $(B)/libattnprune.a
SHARED_LIB := $(B)/libattnprune.so
TOOL := $(B)/attnprune
TEST_BIN := $(B)/tests/unit_tests
REPLAY_BINS := $(FUZZ_NAMES:%=$(B)/tests/replay_%)

# keep the fuzz targets' objects that the replay binaries are linked from
.SECONDARY:

.PHONY: all lib tool tests benches setup demo test unit valgrind fuzz fuzz-build bench bench-attention bench-peak bench-sim install \
  uninstall clean

all: lib tool benches

lib: $(STATIC_LIB) $(SHARED_LIB)
tool: $(TOOL)
tests: $(TEST_BIN) $(REPLAY_BINS)
benches: $(BENCH_BINS)

$(B)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -MMD -MP -c $< -o $@

# The fp32 attention kernel's softmax is written as `omp simd` loops with
# selects (clamp, mask); GCC if-converts a float comparison into a vector
# select only when it may ignore floating-point exception flags. Nothing
# reads those flags, and results are unchanged (this is not -ffast-math).
$(B)/src/kernels/attention_f32.o: CFLAGS += -fno-trapping-math
$(B)/src/kernels/gelu_f32.o: CFLAGS += -fno-trapping-math

$(STATIC_LIB): $(LIB_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(SHARED_LIB): $(LIB_OBJ)
	$(CC) -shared -Wl,-soname,libattnprune.so.$(shell sed -n 's/^#define AP_VERSION_MAJOR //p' include/attnprune.h) \
	  $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(TOOL): $(TOOL_OBJ) $(STATIC_LIB)
	$(CC) $(LDFLAGS) -o $@ $(TOOL_OBJ) $(STATIC_LIB) $(LDLIBS)

$(TEST_BIN): $(TEST_OBJ) $(STATIC_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $(TEST_OBJ) $(STATIC_LIB) $(LDLIBS)

# benchmark programs: bench/NAME.c -> $(B)/bench/NAME
$(BENCH_BINS): $(B)/bench/%: $(B)/bench/%.o $(STATIC_LIB)
	$(CC) $(LDFLAGS) -o $@ $< $(STATIC_LIB) $(LDLIBS)

# Corpus replay: each fuzz target linked against a plain main() that feeds it
# every file of its seed corpus, so make test checks the corpus with any compiler.
$(B)/tests/replay_%: $(B)/tests/fuzz/%.o $(B)/tests/fuzz/replay_main.o $(STATIC_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# ----------------------------------------------------------------- set-up

setup:
	@scripts/setup.sh

demo: setup all
	@scripts/demo.sh $(TOOL)

# ------------------------------------------------------------------- tests

unit: $(TEST_BIN)
	$(TEST_BIN)

test: setup all tests
	@tests/run.sh $(B) $(VARIANT)

valgrind: setup
	$(MAKE) VARIANT=debug all
	@scripts/valgrind.sh build-debug/attnprune

# libFuzzer needs clang; the targets are the same files the replay uses.
FUZZ_DIR := build-fuzz
FUZZ_LIB_SRC := $(LIB_SRC)
fuzz-build:
	@mkdir -p $(FUZZ_DIR)
	@for t in $(FUZZ_NAMES); do \
	  echo "clang $$t"; \
	  clang $(CPPFLAGS) -std=c11 -g -O1 -fsanitize=fuzzer,address,undefined -fopenmp \
	    -o $(FUZZ_DIR)/$$t tests/fuzz/$$t.c $(FUZZ_LIB_SRC) $(LDLIBS) || exit 1; \
	done

fuzz: fuzz-build
	@for t in $(FUZZ_NAMES); do \
	  c=tests/corpus/$${t#fuzz_}; mkdir -p $(FUZZ_DIR)/corpus-$$t; \
	  echo "== $$t for $(FUZZ_SECONDS) s (seeds: $$c)"; \
	  $(FUZZ_DIR)/$$t -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
	    $(FUZZ_DIR)/corpus-$$t $$c 2>&1 | grep -E 'stat::number_of_executed_units|ERROR|crash' ; \
	done

bench: setup all
	@bench/embed_vs_sentence_transformers.sh $(TOOL)
	@bench/attention_vs_torch.sh $(B)

bench-attention: $(B)/bench/attention_f32_vs_ref
	$(B)/bench/attention_f32_vs_ref

bench-peak: $(B)/bench/fp32_peak
	$(B)/bench/fp32_peak

bench-sim: $(B)/bench/sim_speed
	$(B)/bench/sim_speed configs

# ----------------------------------------------------------------- install

install: all
	install -d $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/bin \
	  $(DESTDIR)$(PREFIX)/lib/pkgconfig
	install -m 644 $(STATIC_LIB) $(DESTDIR)$(PREFIX)/lib/
	install -m 755 $(SHARED_LIB) $(DESTDIR)$(PREFIX)/lib/libattnprune.so.$(shell sed -n 's/^#define AP_VERSION_STRING "\(.*\)"/\1/p' include/attnprune.h)
	ln -sf libattnprune.so.$(shell sed -n 's/^#define AP_VERSION_STRING "\(.*\)"/\1/p' include/attnprune.h) $(DESTDIR)$(PREFIX)/lib/libattnprune.so.$(shell sed -n 's/^#define AP_VERSION_MAJOR //p' include/attnprune.h)
	ln -sf libattnprune.so.$(shell sed -n 's/^#define AP_VERSION_MAJOR //p' include/attnprune.h) $(DESTDIR)$(PREFIX)/lib/libattnprune.so
	install -m 644 include/attnprune.h $(DESTDIR)$(PREFIX)/include/
	install -m 755 $(TOOL) $(DESTDIR)$(PREFIX)/bin/
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@BLAS_LIBS@|$(BLAS_LIBS)|' -e 's|@VERSION@|$(shell sed -n 's/^#define AP_VERSION_STRING "\(.*\)"/\1/p' include/attnprune.h)|' \
	  attnprune.pc.in > $(DESTDIR)$(PREFIX)/lib/pkgconfig/attnprune.pc

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/lib/libattnprune.* $(DESTDIR)$(PREFIX)/include/attnprune.h \
	  $(DESTDIR)$(PREFIX)/bin/attnprune $(DESTDIR)$(PREFIX)/lib/pkgconfig/attnprune.pc

clean:
	rm -rf build build-asan build-ubsan build-debug build-fuzz

-include $(LIB_OBJ:.o=.d) $(TOOL_OBJ:.o=.d) $(TEST_OBJ:.o=.d) $(BENCH_OBJ:.o=.d)
