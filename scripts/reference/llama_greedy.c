// Greedy generation with llama.cpp itself, for QuantKit's reference fixtures.
//   llama_greedy MODEL N PROMPT...   → one line per prompt: JSON array of generated token ids
// The prompt is tokenized with add_special=true, parse_special=true; 2 threads, context 512.
#include "llama.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv) {
    if (argc < 4) { fprintf(stderr, "usage: %s MODEL N PROMPT...\n", argv[0]); return 2; }
    llama_backend_init();
    struct llama_model_params mp = llama_model_default_params();
    struct llama_model *model = llama_model_load_from_file(argv[1], mp);
    if (!model) { fprintf(stderr, "cannot load %s\n", argv[1]); return 1; }
    const struct llama_vocab *vocab = llama_model_get_vocab(model);
    int n = atoi(argv[2]);
    for (int a = 3; a < argc; a++) {
        struct llama_context_params cp = llama_context_default_params();
        cp.n_ctx = 512; cp.n_batch = 512; cp.n_threads = 2; cp.n_threads_batch = 2;
        struct llama_context *ctx = llama_init_from_model(model, cp);
        const char *prompt = argv[a];
        int cap = (int)strlen(prompt) + 16;
        llama_token *toks = malloc(sizeof(llama_token) * (cap + n));
        int nt = llama_tokenize(vocab, prompt, (int)strlen(prompt), toks, cap, true, true);
        if (nt < 0) { fprintf(stderr, "tokenize failed\n"); return 1; }
        struct llama_sampler *smpl = llama_sampler_init_greedy();
        struct llama_batch batch = llama_batch_get_one(toks, nt);
        printf("{\"prompt_ids\":[");
        for (int i = 0; i < nt; i++) printf(i ? ",%d" : "%d", toks[i]);
        printf("],\"generated\":[");
        for (int i = 0; i < n; i++) {
            if (llama_decode(ctx, batch)) { fprintf(stderr, "decode failed\n"); return 1; }
            llama_token t = llama_sampler_sample(smpl, ctx, -1);
            printf(i ? ",%d" : "%d", t);
            if (llama_vocab_is_eog(vocab, t)) break;
            toks[nt + i] = t;
            batch = llama_batch_get_one(&toks[nt + i], 1);
        }
        printf("]}\n");
        fflush(stdout);
        llama_sampler_free(smpl);
        llama_free(ctx);
        free(toks);
    }
    llama_model_free(model);
    return 0;
}
