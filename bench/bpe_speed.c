/* bpe_speed.c — time the byte-level BPE tokenizer on a text file.
 *
 *     bpe_speed MODEL.gguf TEXT [REPEATS [IDS_OUT]]
 *
 * Loads the tokenizer from the GGUF, encodes the whole file as one text
 * REPEATS times (default 5) on one thread, and prints the best time as
 * "tokens=N seconds=S tokens_per_s=R mb_per_s=M". With IDS_OUT, writes the
 * ids there, one per line, for bench/bpe_vs_tokenizers.sh to compare.
 * Built and run by bench/bpe_vs_tokenizers.sh. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "attnprune.h"
#include "io/gguf.h"
#include "model/chunks.h"
#include "model/tokenizer.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: bpe_speed MODEL.gguf TEXT [REPEATS [IDS_OUT]]\n");
        return 2;
    }
    int repeats = argc > 3 ? atoi(argv[3]) : 5;
    struct ap_gguf *g = NULL;
    struct ap_tokenizer *tok = NULL;
    char *text = NULL;
    size_t len = 0;
    if (ap_gguf_open(argv[1], &g) != AP_OK || ap_bpe_load_gguf(g, &tok) != AP_OK ||
        ap_read_text_file(argv[2], &text, &len) != AP_OK) {
        fprintf(stderr, "bpe_speed: %s\n", ap_last_error());
        return 1;
    }
    ap_gguf_close(g);
    int32_t cap = (int32_t)len + 16, n = 0;
    int32_t *ids = malloc(sizeof(int32_t) * (size_t)cap);
    double best = 1e30;
    for (int r = 0; r < repeats; r++) {
        double t0 = now();
        if (ap_tokenizer_encode(tok, text, len, 0, ids, cap, &n) != AP_OK) {
            fprintf(stderr, "bpe_speed: %s\n", ap_last_error());
            return 1;
        }
        double dt = now() - t0;
        if (dt < best) best = dt;
    }
    printf("tokens=%d seconds=%.4f tokens_per_s=%.0f mb_per_s=%.2f\n", n, best, n / best, (double)len / best / 1e6);
    if (argc > 4) {
        FILE *f = fopen(argv[4], "w");
        if (!f) return 1;
        for (int32_t i = 0; i < n; i++) fprintf(f, "%d\n", ids[i]);
        fclose(f);
    }
    free(ids);
    free(text);
    ap_tokenizer_free(tok);
    return 0;
}
