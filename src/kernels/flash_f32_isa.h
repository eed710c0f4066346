/* flash_f32_isa.h — the body of the flash-style fp32 attention kernel,
 * included by flash_f32.c once per instruction set. Not a public header.
 *
 * The includer defines:
 *   FL_NAME(x)   the variant's name for x (e.g. x##_avx512)
 *   FL_TARGET    __attribute__((target(...))) for every function here
 *   VW           floats per vector
 *   FL_NR        key panels (of VW keys) per score micro-tile
 *   FL_DV        vectors of the head dimension per P·V micro-tile
 *   vf           the vector type, and the operations
 *   V_LOAD(p) V_STORE(p, x) V_SET1(x) V_ZERO() V_FMA(a, b, c) = a*b + c
 *   V_MUL V_SUB V_ADD V_MAX V_EXP2(x) (2^x for x <= 0, 0 below -126)
 *   V_HMAX(x) V_HSUM(x) (horizontal max / sum to a float)
 *   V_LOADN(p, n) (first n < VW floats, the rest 0)
 *   V_KEEP_FIRST(x, n)        lanes >= n set to -inf
 *   V_KEEP_BYTES(x, b, n)     lanes whose byte b[lane] is 0 set to -inf;
 *                             reads only b[0, n), lanes >= n are unchanged
 *
 * Legend: S = queries, T = keys, d = head dimension, dp = d rounded up to
 * VW, BQ = query rows per block (FL_BQ), BK = keys per tile (FL_BK),
 * MR = query rows per score micro-tile (FL_MR), PR = rows per P·V
 * micro-tile (FL_PR). */

/* K (T, d) into panels of VW keys, transposed: Kp[p][c][lane] = K[p VW +
 * lane][c], zeros past T. Kp holds ceil(T / VW) d VW floats. */
FL_TARGET static void FL_NAME(pack_k)(const struct ap_attn_head *h, int32_t n_keys, float *Kp) {
    const int32_t d = h->d;
    const int32_t n_pan = (n_keys + VW - 1) / VW;
    for (int32_t p = 0; p < n_pan; p++) {
        float *dst = Kp + (int64_t)p * d * VW;
        for (int32_t lane = 0; lane < VW; lane++) {
            const int32_t j = p * VW + lane;
            if (j < n_keys) {
                const float *k = h->k + (int64_t)j * h->k_stride;
                for (int32_t c = 0; c < d; c++) dst[(int64_t)c * VW + lane] = k[c];
            } else {
                for (int32_t c = 0; c < d; c++) dst[(int64_t)c * VW + lane] = 0.0f;
            }
        }
    }
}

/* Scores of MR query rows (Qs, (MR, d), already scaled by scale log2 e)
 * against NP panels starting at panel Kp: Sb[r][x VW + lane] for x < NP.
 * Always inlined with NP a constant, so the accumulators stay in
 * registers. */
FL_TARGET static inline __attribute__((always_inline)) void FL_NAME(score_tile)(const float *Qs, int32_t d,
                                                                               const float *Kp, int NP, float *Sb) {
    vf acc[FL_MR][FL_NR];
#pragma GCC unroll 8
    for (int r = 0; r < FL_MR; r++)
#pragma GCC unroll 4
        for (int x = 0; x < FL_NR; x++) acc[r][x] = V_ZERO();
    for (int32_t c = 0; c < d; c++) {
        vf kv[FL_NR];
#pragma GCC unroll 4
        for (int x = 0; x < FL_NR; x++)
            kv[x] = x >= NP ? V_ZERO() : V_LOAD(Kp + ((int64_t)x * d + c) * VW);
#pragma GCC unroll 8
        for (int r = 0; r < FL_MR; r++) {
            const vf qv = V_SET1(Qs[(int64_t)r * d + c]);
#pragma GCC unroll 4
            for (int x = 0; x < FL_NR; x++)
                if (x < NP) acc[r][x] = V_FMA(qv, kv[x], acc[r][x]);
        }
    }
#pragma GCC unroll 8
    for (int r = 0; r < FL_MR; r++)
#pragma GCC unroll 4
        for (int x = 0; x < FL_NR; x++)
            if (x < NP) V_STORE(Sb + (int64_t)r * FL_BK + x * VW, acc[r][x]);
}

/* Oacc[r][c0 + x VW] += sum over j < nk of P[r][j] V[j][c0 + x VW] for
 * r < PR, x < NV (a constant when inlined); V rows are h->v + j v_stride
 * from key t0. last_n > 0: the chunk's last vector holds only last_n
 * floats of the row (d not a multiple of VW). */
FL_TARGET static inline __attribute__((always_inline)) void FL_NAME(pv_tile)(const float *P, const float *V,
                                                                            int64_t vs, int32_t nk, float *Oacc,
                                                                            int64_t dp, int NV, int last_n) {
    vf acc[FL_PR][FL_DV];
#pragma GCC unroll 4
    for (int r = 0; r < FL_PR; r++)
#pragma GCC unroll 4
        for (int x = 0; x < FL_DV; x++)
            acc[r][x] = x < NV ? V_LOAD(Oacc + (int64_t)r * dp + x * VW) : V_ZERO();
    for (int32_t j = 0; j < nk; j++) {
        const float *vrow = V + (int64_t)j * vs;
        vf vv[FL_DV];
#pragma GCC unroll 4
        for (int x = 0; x < FL_DV; x++)
            vv[x] = x >= NV ? V_ZERO() : (last_n && x == NV - 1) ? V_LOADN(vrow + x * VW, last_n) : V_LOADU(vrow + x * VW);
#pragma GCC unroll 4
        for (int r = 0; r < FL_PR; r++) {
            const vf pb = V_SET1(P[(int64_t)r * FL_BK + j]);
#pragma GCC unroll 4
            for (int x = 0; x < FL_DV; x++)
                if (x < NV) acc[r][x] = V_FMA(pb, vv[x], acc[r][x]);
        }
    }
#pragma GCC unroll 4
    for (int r = 0; r < FL_PR; r++)
#pragma GCC unroll 4
        for (int x = 0; x < FL_DV; x++)
            if (x < NV) V_STORE(Oacc + (int64_t)r * dp + x * VW, acc[r][x]);
}

/* One row's scores in a tile, s[0, nk) (stored in vectors up to nk rounded
 * up to VW), into probabilities for the online softmax: keys past nvis
 * (causal limit), masked (mrow) and padding (kv) keys become -inf; the
 * row's running max m and sum l are updated and its accumulated output
 * orow (dp floats) is rescaled when the max grows. Writes exp2(s - m) back
 * into s (0 for dropped keys). */
FL_TARGET static void FL_NAME(softmax_tile_row)(float *s, int32_t nk, int32_t nvis, const uint8_t *mrow,
                                                const uint8_t *kv, float *m, float *l, float *orow, int64_t dp) {
    const int32_t nvec = (nk + VW - 1) / VW;
    vf mx = V_SET1(-INFINITY);
    for (int32_t v = 0; v < nvec; v++) {
        vf x = V_LOAD(s + (int64_t)v * VW);
        const int32_t left = nvis - v * VW; /* visible keys from this vector on */
        if (left < VW) x = V_KEEP_FIRST(x, left < 0 ? 0 : left);
        const int32_t nb = left < VW ? (left < 0 ? 0 : left) : VW;
        if (mrow) x = V_KEEP_BYTES(x, mrow + (int64_t)v * VW, nb);
        if (kv) x = V_KEEP_BYTES(x, kv + (int64_t)v * VW, nb);
        V_STORE(s + (int64_t)v * VW, x);
        mx = V_MAX(mx, x);
    }
    const float tmax = V_HMAX(mx);
    const float m_new = tmax > *m ? tmax : *m;
    if (m_new == -INFINITY) { /* nothing kept so far: no probabilities */
        for (int32_t v = 0; v < nvec; v++) V_STORE(s + (int64_t)v * VW, V_ZERO());
        return;
    }
    const vf mv = V_SET1(m_new);
    vf sum = V_ZERO();
    for (int32_t v = 0; v < nvec; v++) {
        const vf p = V_EXP2(V_SUB(V_LOAD(s + (int64_t)v * VW), mv));
        V_STORE(s + (int64_t)v * VW, p);
        sum = V_ADD(sum, p);
    }
    if (m_new > *m && *l != 0.0f) { /* the max grew: earlier terms shrink by 2^(m - m_new) */
        const float alpha = exp2f(*m - m_new);
        const vf av = V_SET1(alpha);
        for (int64_t c = 0; c < dp; c += VW) V_STORE(orow + c, V_MUL(V_LOAD(orow + c), av));
        *l *= alpha;
    }
    *l += V_HSUM(sum);
    *m = m_new;
}

/* Query rows [i0, i0 + nb) of head h (nb <= BQ) against the packed keys
 * Kp: the flash loop over key tiles. ws is the block's workspace (see
 * flash_f32.c: Qs, Oacc, Sb, m, l). */
FL_TARGET static void FL_NAME(rows)(const struct ap_attn_head *h, const float *Kp, const uint8_t *mask, int32_t i0,
                                    int32_t nb, float *ws) {
    const int32_t S = h->n_q, T = h->n_k, d = h->d, offset = T - S;
    const int64_t dp = ((int64_t)d + VW - 1) / VW * VW;
    const int32_t n_groups = (nb + FL_MR - 1) / FL_MR;
    float *Qs = ws;                             /* (BQ, d) */
    float *Oacc = Qs + (int64_t)FL_BQ * d;      /* (BQ, dp) */
    float *Sb = Oacc + (int64_t)FL_BQ * dp;     /* (MR, BK) */
    float *m = Sb + (int64_t)FL_MR * FL_BK;     /* (BQ) */
    float *l = m + FL_BQ;                       /* (BQ) */
    const float qscale = h->scale * 1.44269504088896341f; /* exp(x) = 2^(x log2 e) */
    const int last_n = (int)(d % VW);

    for (int32_t r = 0; r < n_groups * FL_MR; r++) {
        float *qs = Qs + (int64_t)r * d;
        if (r < nb) {
            const float *q = h->q + (int64_t)(i0 + r) * h->q_stride;
            for (int32_t c = 0; c < d; c++) qs[c] = q[c] * qscale;
        } else {
            memset(qs, 0, sizeof(float) * (size_t)d);
        }
        memset(Oacc + (int64_t)r * dp, 0, sizeof(float) * (size_t)dp);
        m[r] = -INFINITY;
        l[r] = 0.0f;
    }

    /* keys the block's last row sees */
    int64_t tvb64 = h->causal ? (int64_t)i0 + nb + offset : T;
    const int32_t tvb = tvb64 > T ? T : tvb64 < 0 ? 0 : (int32_t)tvb64;
    for (int32_t t0 = 0; t0 < tvb; t0 += FL_BK) {
        const int32_t nk_tile = tvb - t0 < FL_BK ? tvb - t0 : FL_BK;
        const float *Kt = Kp + (int64_t)(t0 / VW) * d * VW;
        for (int32_t g = 0; g < n_groups; g++) {
            const int32_t r0 = g * FL_MR;
            const int32_t rows = nb - r0 < FL_MR ? nb - r0 : FL_MR;
            int64_t tvg64 = h->causal ? (int64_t)i0 + r0 + rows + offset : T;
            if (tvg64 > T) tvg64 = T;
            const int32_t nk = tvg64 - t0 < nk_tile ? (int32_t)(tvg64 - t0) : nk_tile;
            if (nk <= 0) continue; /* the group sees no key of this tile */

            /* scores, NR panels at a time */
            const int32_t n_pan = (nk + VW - 1) / VW;
            int32_t p = 0;
            for (; p + FL_NR <= n_pan; p += FL_NR)
                FL_NAME(score_tile)(Qs + (int64_t)r0 * d, d, Kt + (int64_t)p * d * VW, FL_NR, Sb + (int64_t)p * VW);
            for (; p < n_pan; p++)
                FL_NAME(score_tile)(Qs + (int64_t)r0 * d, d, Kt + (int64_t)p * d * VW, 1, Sb + (int64_t)p * VW);

            /* online softmax per row; rows past nb and rows that cannot be
             * computed get zero probabilities */
            for (int32_t r = 0; r < FL_MR; r++) {
                float *s = Sb + (int64_t)r * FL_BK;
                const int32_t i = i0 + r0 + r;
                if (r >= rows || (h->query_valid && !h->query_valid[i])) {
                    memset(s, 0, sizeof(float) * (size_t)(n_pan * VW));
                    continue;
                }
                int64_t lim = h->causal ? (int64_t)i + offset + 1 - t0 : nk; /* visible keys in the tile */
                const int32_t nvis = lim > nk ? nk : lim < 0 ? 0 : (int32_t)lim;
                FL_NAME(softmax_tile_row)(s, nk, nvis, mask ? mask + (int64_t)i * T + t0 : NULL,
                                          h->key_valid ? h->key_valid + t0 : NULL, m + r0 + r, l + r0 + r,
                                          Oacc + (int64_t)(r0 + r) * dp, dp);
            }

            /* P·V into the accumulators, PR rows and FL_DV vectors at a time */
            const float *Vt = h->v + (int64_t)t0 * h->v_stride;
            for (int32_t pr = 0; pr < FL_MR; pr += FL_PR) {
                if (pr >= rows) break;
                const float *P = Sb + (int64_t)pr * FL_BK;
                float *O = Oacc + (int64_t)(r0 + pr) * dp;
                const int32_t n_dv = (int32_t)(dp / VW);
                int32_t x = 0;
                for (; x + FL_DV <= n_dv; x += FL_DV)
                    FL_NAME(pv_tile)(P, Vt + (int64_t)x * VW, h->v_stride, nk, O + (int64_t)x * VW, dp, FL_DV,
                                     x + FL_DV == n_dv ? last_n : 0);
                for (; x < n_dv; x++)
                    FL_NAME(pv_tile)(P, Vt + (int64_t)x * VW, h->v_stride, nk, O + (int64_t)x * VW, dp, 1,
                                     x + 1 == n_dv ? last_n : 0);
            }
        }
    }

    for (int32_t r = 0; r < nb; r++) {
        float *o = h->o + (int64_t)(i0 + r) * h->o_stride;
        const float *a = Oacc + (int64_t)r * dp;
        if (l[r] == 0.0f) { /* not valid, or nothing kept: exact zeros, as the reference */
            memset(o, 0, sizeof(float) * (size_t)d);
            continue;
        }
        const float inv = 1.0f / l[r];
        for (int32_t c = 0; c < d; c++) o[c] = a[c] * inv;
    }
}

/* ------------------------------------------------------------ sparse rows */

/* One query row over a list of keys: q (d floats, pre-scaled by scale
 * log2 e), cols[0, n) the kept keys (valid, visible, ascending or not),
 * VW keys at a time: their scores by gathered dot products (one vector of
 * partial sums per key, then one transposed sum), the online softmax, and
 * acc (dp floats) += p_j V[j] with FL_DV vectors of acc in registers per
 * pass. Writes the normalized output row o (d floats), zeros when n = 0. */
FL_TARGET static void FL_NAME(sparse_row)(const struct ap_attn_head *h, const float *q, const int32_t *cols,
                                          int32_t n, float *acc, float *o) {
    const int32_t d = h->d;
    const int64_t dp = ((int64_t)d + VW - 1) / VW * VW;
    const int32_t n_dv = (int32_t)(dp / VW);
    const int last_n = (int)(d % VW);
    float m = -INFINITY, l = 0.0f;
    float pbuf[VW];
    for (int64_t c = 0; c < dp; c += VW) V_STORE(acc + c, V_ZERO());
    for (int32_t k0 = 0; k0 < n; k0 += VW) {
        const int32_t nn = n - k0 < VW ? n - k0 : VW;
        const int32_t *cj = cols + k0;
        vf part[VW];
#pragma GCC unroll 16
        for (int lane = 0; lane < VW; lane++) part[lane] = V_ZERO();
        for (int32_t x = 0; x < n_dv; x++) {
            const int tail = (last_n && x == n_dv - 1) ? last_n : 0;
            const vf qv = tail ? V_LOADN(q + x * VW, tail) : V_LOADU(q + x * VW);
#pragma GCC unroll 16
            for (int lane = 0; lane < VW; lane++) {
                if (lane >= nn) break;
                const float *kr = h->k + (int64_t)cj[lane] * h->k_stride + x * VW;
                part[lane] = V_FMA(qv, tail ? V_LOADN(kr, tail) : V_LOADU(kr), part[lane]);
            }
        }
        vf s = V_TSUM(part);
        if (nn < VW) s = V_KEEP_FIRST(s, nn);
        const float m_new = V_HMAX(s) > m ? V_HMAX(s) : m;
        const vf p = V_EXP2(V_SUB(s, V_SET1(m_new)));
        if (m_new > m && l != 0.0f) {
            const float alpha = exp2f(m - m_new);
            const vf av = V_SET1(alpha);
            for (int64_t c = 0; c < dp; c += VW) V_STORE(acc + c, V_MUL(V_LOAD(acc + c), av));
            l *= alpha;
        }
        m = m_new;
        l += V_HSUM(p);
        V_STORE(pbuf, p);
        for (int32_t x0 = 0; x0 < n_dv; x0 += FL_DV) {
            vf a[FL_DV];
            const int nv = n_dv - x0 < FL_DV ? n_dv - x0 : FL_DV;
#pragma GCC unroll 4
            for (int x = 0; x < FL_DV; x++)
                a[x] = x < nv ? V_LOAD(acc + (x0 + x) * VW) : V_ZERO();
            for (int32_t lane = 0; lane < nn; lane++) {
                const float *vr = h->v + (int64_t)cj[lane] * h->v_stride + x0 * VW;
                const vf pb = V_SET1(pbuf[lane]);
#pragma GCC unroll 4
                for (int x = 0; x < FL_DV; x++) {
                    if (x >= nv) break;
                    const int tail = (last_n && x0 + x == n_dv - 1) ? last_n : 0;
                    a[x] = V_FMA(pb, tail ? V_LOADN(vr + x * VW, tail) : V_LOADU(vr + x * VW), a[x]);
                }
            }
#pragma GCC unroll 4
            for (int x = 0; x < FL_DV; x++)
                if (x < nv) V_STORE(acc + (x0 + x) * VW, a[x]);
        }
    }
    if (l == 0.0f) {
        memset(o, 0, sizeof(float) * (size_t)d);
        return;
    }
    const float inv = 1.0f / l;
    for (int32_t c = 0; c < d; c++) o[c] = acc[c] * inv;
}

/* Rows [i0, i0 + nb) of head h from their key lists (row r's keys are
 * cols[row_ptr[r], row_ptr[r + 1])); rows not valid get zeros. ws holds
 * d + dp floats. */
FL_TARGET static void FL_NAME(sparse_rows)(const struct ap_attn_head *h, int32_t i0, int32_t nb,
                                           const int64_t *row_ptr, const int32_t *cols, float *ws) {
    const int32_t d = h->d;
    const int64_t dp = ((int64_t)d + VW - 1) / VW * VW;
    float *qs = ws, *acc = ws + dp;
    const float qscale = h->scale * 1.44269504088896341f;
    for (int32_t r = 0; r < nb; r++) {
        const int32_t i = i0 + r;
        float *o = h->o + (int64_t)i * h->o_stride;
        const int32_t n = (int32_t)(row_ptr[r + 1] - row_ptr[r]);
        if ((h->query_valid && !h->query_valid[i]) || n == 0) {
            memset(o, 0, sizeof(float) * (size_t)d);
            continue;
        }
        const float *q = h->q + (int64_t)i * h->q_stride;
        for (int32_t c = 0; c < d; c++) qs[c] = q[c] * qscale;
        FL_NAME(sparse_row)(h, qs, cols + row_ptr[r], n, acc, o);
    }
}

/* ------------------------------------------------------- softmax threshold */

/* See ap_softmax_threshold_row (attention.h). */
FL_TARGET static int32_t FL_NAME(threshold_row)(const int32_t *dots, float *s, int32_t n, float c,
                                                const float *key_scale, const uint8_t *kv, double t, int keep_max,
                                                int32_t *cols) {
    const int32_t nvec = (n + VW - 1) / VW;
    const vf cv = V_SET1(c);
    vf mx = V_SET1(-INFINITY);
    for (int32_t v = 0; v < nvec; v++) { /* scale, drop padding keys, max */
        const int32_t left = n - v * VW;
        float *sv = s + (int64_t)v * VW;
        const int32_t *dv = dots + (int64_t)v * VW;
        vf x = V_MUL(left < VW ? V_LOADIN(dv, left) : V_LOADI(dv), cv);
        if (key_scale) x = V_MUL(x, left < VW ? V_LOADN(key_scale + (int64_t)v * VW, left) : V_LOAD(key_scale + (int64_t)v * VW));
        if (left < VW) x = V_KEEP_FIRST(x, left);
        if (kv) x = V_KEEP_BYTES(x, kv + (int64_t)v * VW, left < VW ? left : VW);
        if (left < VW) {
            float tmp[VW];
            V_STORE(tmp, x);
            memcpy(sv, tmp, sizeof(float) * (size_t)left);
        } else {
            V_STORE(sv, x);
        }
        mx = V_MAX(mx, x);
    }
    const float m = V_HMAX(mx);
    if (m == -INFINITY) return 0;
    /* One pass: the row sum, and the candidates s_j > m + ln t (the sum is
     * at least 1, so every kept pair is one; they are few) into cols. */
    const vf ml = V_SET1(m * 1.44269504088896341f);
    const vf l2e = V_SET1(1.44269504088896341f);
    const vf cand = V_SET1((float)((double)m + log(t)) - fabsf(m) * 1e-6f); /* a little low: float rounding */
    vf sum = V_ZERO();
    int32_t n_cand = 0;
    for (int32_t v = 0; v < nvec; v++) {
        const int32_t left = n - v * VW;
        vf x = left < VW ? V_LOADN(s + (int64_t)v * VW, left) : V_LOAD(s + (int64_t)v * VW);
        if (left < VW) x = V_KEEP_FIRST(x, left);
        sum = V_ADD(sum, V_EXP2(V_FMA(x, l2e, V_SUB(V_ZERO(), ml))));
        n_cand += V_APPEND_GT(x, cand, v * VW, cols + n_cand);
    }
    /* p_j = e^(s_j - m) / sum > t  <=>  s_j > m + ln(t sum) */
    const float thr = (float)((double)m + log(t * (double)V_HSUM(sum)));
    int32_t kept = 0;
    for (int32_t e = 0; e < n_cand; e++)
        if (s[cols[e]] > thr) cols[kept++] = cols[e];
    if (!kept && keep_max)
        for (int32_t j = 0; j < n; j++)
            if (s[j] == m) cols[kept++] = j;
    return kept;
}
