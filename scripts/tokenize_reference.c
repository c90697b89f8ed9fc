// Reference tokenizations from llama.cpp itself, for the Tokenizers tests.
//
//   tokenize_reference MODEL.gguf CASES_FILE > fixture.json
//   tokenize_reference --chat TEMPLATES_FILE > chat-templates.json
//
// Loads MODEL's vocabulary only (vocab_only) and, for each case in CASES_FILE, calls
// llama_tokenize with the case's add_special / parse_special flags and llama_detokenize
// (remove_special false, unparse_special false) on the result. Also records the vocabulary's
// special ids, its end-of-generation set, checksums of every token's piece
// (llama_token_to_piece, special false and true) and the built-in chat template output.
//
// CASES_FILE is a sequence of records, each a header line
//     @@case {"name": "...", "add_special": true, "parse_special": false, "digest": false, ...} N
// followed by exactly N bytes of text and one "\n". The JSON object is copied into the
// output. With "digest": true only the token count and an FNV-1a 64 hash of the ids (as
// little-endian int32) are written instead of the ids and the text (for big inputs).
//
// Build: see scripts/make-tokenizer-fixtures.sh.
#include "llama.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void quiet_log(enum ggml_log_level level, const char * text, void * user) {
    (void) level; (void) text; (void) user;
}

static uint64_t fnv1a(uint64_t h, const void * data, size_t n) {
    const unsigned char * p = data;
    for (size_t i = 0; i < n; i++) { h ^= p[i]; h *= 0x100000001b3ULL; }
    return h;
}
static const uint64_t FNV_INIT = 0xcbf29ce484222325ULL;

static void json_string(const char * s, size_t n) {
    putchar('"');
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char) s[i];
        switch (c) {
            case '"': fputs("\\\"", stdout); break;
            case '\\': fputs("\\\\", stdout); break;
            case '\n': fputs("\\n", stdout); break;
            case '\r': fputs("\\r", stdout); break;
            case '\t': fputs("\\t", stdout); break;
            default:
                if (c < 0x20 || c == 0x7f) printf("\\u%04x", c); else putchar(c);
        }
    }
    putchar('"');
}

// Well-formed UTF-8: shortest forms only, no surrogates, nothing above U+10FFFF.
static bool valid_utf8(const char * s, size_t n) {
    size_t i = 0;
    while (i < n) {
        unsigned char c = (unsigned char) s[i];
        size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
        if (len == 0 || i + len > n) return false;
        uint32_t cp = len == 1 ? c : len == 2 ? (c & 0x1Fu) : len == 3 ? (c & 0x0Fu) : (c & 0x07u);
        for (size_t k = 1; k < len; k++) {
            if (((unsigned char) s[i + k] & 0xC0) != 0x80) return false;
            cp = (cp << 6) | ((unsigned char) s[i + k] & 0x3Fu);
        }
        static const uint32_t min_cp[5] = {0, 0, 0x80, 0x800, 0x10000};
        if (cp < min_cp[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
        i += len;
    }
    return true;
}

static char * read_file(const char * path, size_t * size) {
    FILE * f = fopen(path, "rb");
    if (!f) { fprintf(stderr, "cannot open %s\n", path); exit(1); }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char * buf = malloc((size_t) n + 1);
    if (fread(buf, 1, (size_t) n, f) != (size_t) n) { fprintf(stderr, "cannot read %s\n", path); exit(1); }
    buf[n] = 0;
    fclose(f);
    *size = (size_t) n;
    return buf;
}

static llama_token * tokenize(const struct llama_vocab * vocab, const char * text, size_t n,
                              bool add_special, bool parse_special, int32_t * count) {
    int32_t cap = (int32_t) n + 16;
    llama_token * toks = malloc(sizeof(llama_token) * (size_t) cap);
    int32_t k = llama_tokenize(vocab, text, (int32_t) n, toks, cap, add_special, parse_special);
    if (k < 0) {
        cap = -k;
        toks = realloc(toks, sizeof(llama_token) * (size_t) cap);
        k = llama_tokenize(vocab, text, (int32_t) n, toks, cap, add_special, parse_special);
    }
    if (k < 0) { fprintf(stderr, "llama_tokenize failed\n"); exit(1); }
    *count = k;
    return toks;
}

static char * detokenize(const struct llama_vocab * vocab, const llama_token * toks, int32_t n, int32_t * len) {
    int32_t cap = n * 16 + 64;
    char * buf = malloc((size_t) cap);
    int32_t k = llama_detokenize(vocab, toks, n, buf, cap, false, false);
    if (k < 0) {
        cap = -k;
        buf = realloc(buf, (size_t) cap);
        k = llama_detokenize(vocab, toks, n, buf, cap, false, false);
    }
    if (k < 0) { fprintf(stderr, "llama_detokenize failed\n"); exit(1); }
    *len = k;
    return buf;
}

static void print_chat(const char * tmpl, const struct llama_chat_message * msgs, size_t n, bool add_ass, bool first) {
    char buf[8192];
    int32_t k = llama_chat_apply_template(tmpl, msgs, n, add_ass, buf, sizeof buf);
    printf("%s\n    {\"messages\": [", first ? "" : ",");
    for (size_t i = 0; i < n; i++) {
        printf("%s{\"role\": ", i ? ", " : "");
        json_string(msgs[i].role, strlen(msgs[i].role));
        printf(", \"content\": ");
        json_string(msgs[i].content, strlen(msgs[i].content));
        printf("}");
    }
    printf("], \"add_assistant\": %s, \"result\": ", add_ass ? "true" : "false");
    if (k < 0) printf("null"); else json_string(buf, (size_t) k);
    printf("}");
}

// --chat TEMPLATES_FILE: llama_chat_apply_template (no model needed) for each template in the
// file (records "@@template N\n" + N bytes + "\n"), on three fixed conversations.
static int chat_mode(const char * path) {
    size_t size;
    char * all = read_file(path, &size);
    struct llama_chat_message conv[] = {
        {"system", "You are a helpful assistant."},
        {"user", "Hello! How are you?"},
        {"assistant", "  I'm fine, thanks.  "},
        {"user", "What is 2+2?\n"},
    };
    printf("[");
    size_t pos = 0;
    bool first = true;
    while (pos < size) {
        if (strncmp(all + pos, "@@template ", 11) != 0) { fprintf(stderr, "bad template header\n"); return 1; }
        char * eol = memchr(all + pos, '\n', size - pos);
        size_t n = strtoull(all + pos + 11, NULL, 10);
        char * tmpl = malloc(n + 1);
        memcpy(tmpl, eol + 1, n);
        tmpl[n] = 0;
        pos = (size_t) (eol + 1 - all) + n + 1;
        printf("%s\n  {\"template\": ", first ? "" : ",");
        json_string(tmpl, n);
        printf(", \"results\": [");
        print_chat(tmpl, conv, 4, true, true);
        print_chat(tmpl, conv, 4, false, false);
        print_chat(tmpl, conv + 1, 3, true, false);
        printf("]}");
        first = false;
        free(tmpl);
    }
    printf("\n]\n");
    free(all);
    return 0;
}

int main(int argc, char ** argv) {
    if (argc == 3 && strcmp(argv[1], "--chat") == 0) return chat_mode(argv[2]);
    if (argc != 3) { fprintf(stderr, "usage: %s MODEL.gguf CASES_FILE | --chat TEMPLATES_FILE\n", argv[0]); return 2; }
    llama_log_set(quiet_log, NULL);
    llama_backend_init();
    struct llama_model_params mp = llama_model_default_params();
    mp.vocab_only = true;
    struct llama_model * model = llama_model_load_from_file(argv[1], mp);
    if (!model) { fprintf(stderr, "cannot load %s\n", argv[1]); return 1; }
    const struct llama_vocab * vocab = llama_model_get_vocab(model);
    const int32_t n_vocab = llama_vocab_n_tokens(vocab);

    const char * base = strrchr(argv[1], '/');
    printf("{\n  \"model\": ");
    json_string(base ? base + 1 : argv[1], strlen(base ? base + 1 : argv[1]));
    printf(",\n  \"vocab_size\": %d,\n  \"bos\": %d,\n  \"eos\": %d,\n  \"eot\": %d,\n",
           n_vocab, llama_vocab_bos(vocab), llama_vocab_eos(vocab), llama_vocab_eot(vocab));
    printf("  \"add_bos\": %s,\n  \"add_eos\": %s,\n",
           llama_vocab_get_add_bos(vocab) ? "true" : "false", llama_vocab_get_add_eos(vocab) ? "true" : "false");

    printf("  \"eog\": [");
    bool first = true;
    for (llama_token t = 0; t < n_vocab; t++) {
        if (llama_vocab_is_eog(vocab, t)) { printf("%s%d", first ? "" : ", ", t); first = false; }
    }
    // Control tokens as [first, last] ranges.
    printf("],\n  \"control_ranges\": [");
    first = true;
    for (llama_token t = 0; t < n_vocab; t++) {
        if (!llama_vocab_is_control(vocab, t)) continue;
        llama_token e = t;
        while (e + 1 < n_vocab && llama_vocab_is_control(vocab, e + 1)) e++;
        printf("%s[%d, %d]", first ? "" : ", ", t, e);
        first = false;
        t = e;
    }
    printf("],\n");

    // Pieces of every token: checksums over (id, length, bytes), plus samples.
    for (int special = 0; special < 2; special++) {
        uint64_t h = FNV_INIT;
        char buf[1024];
        for (llama_token t = 0; t < n_vocab; t++) {
            int32_t k = llama_token_to_piece(vocab, t, buf, sizeof buf, 0, special);
            if (k < 0) { fprintf(stderr, "piece too long for %d\n", t); return 1; }
            h = fnv1a(h, &t, 4);
            h = fnv1a(h, &k, 4);
            h = fnv1a(h, buf, (size_t) k);
        }
        printf("  \"pieces%s_fnv64\": \"%016llx\",\n", special ? "_special" : "", (unsigned long long) h);
    }
    printf("  \"piece_samples\": [");
    first = true;
    for (llama_token t = 0; t < n_vocab; t += (t < 600 ? 1 : 997)) {
        char buf[1024];
        int32_t k = llama_token_to_piece(vocab, t, buf, sizeof buf, 0, false);
        printf("%s[%d, \"", first ? "" : ", ", t);
        for (int32_t i = 0; i < k; i++) printf("%02x", (unsigned char) buf[i]);
        printf("\"]");
        first = false;
    }
    printf("],\n");

    // The built-in chat template applied to two conversations.
    const char * tmpl = llama_model_chat_template(model, NULL);
    printf("  \"chat\": [");
    if (tmpl) {
        struct llama_chat_message conv[] = {
            {"system", "You are a helpful assistant."},
            {"user", "Hello! How are you?"},
            {"assistant", "  I'm fine, thanks.  "},
            {"user", "What is 2+2?\n"},
        };
        print_chat(tmpl, conv, 4, true, true);
        print_chat(tmpl, conv, 4, false, false);
        print_chat(tmpl, conv + 1, 1, true, false);
    }
    printf("],\n");

    // The cases.
    size_t size;
    char * all = read_file(argv[2], &size);
    size_t pos = 0;
    printf("  \"cases\": [");
    first = true;
    while (pos < size) {
        if (strncmp(all + pos, "@@case ", 7) != 0) { fprintf(stderr, "bad case header at %zu\n", pos); return 1; }
        char * eol = memchr(all + pos, '\n', size - pos);
        char * last_space = eol;
        while (last_space > all + pos && *last_space != ' ') last_space--;
        size_t n = strtoull(last_space + 1, NULL, 10);
        const char * header = all + pos + 7;
        size_t header_len = (size_t) (last_space - header);
        const char * text = eol + 1;
        if (text + n >= all + size + 1) { fprintf(stderr, "truncated case\n"); return 1; }
        pos = (size_t) (text - all) + n + 1;

        char hdr[4096];
        if (header_len >= sizeof hdr - 1 || header[header_len - 1] != '}') { fprintf(stderr, "bad header\n"); return 1; }
        memcpy(hdr, header, header_len - 1);  // without the closing brace
        hdr[header_len - 1] = 0;
        bool add_special = strstr(hdr, "\"add_special\": true") != NULL;
        bool parse_special = strstr(hdr, "\"parse_special\": true") != NULL;
        bool digest = strstr(hdr, "\"digest\": true") != NULL;

        int32_t count;
        llama_token * toks = tokenize(vocab, text, n, add_special, parse_special, &count);
        int32_t dlen;
        char * detok = detokenize(vocab, toks, count, &dlen);
        printf("%s\n    %s", first ? "" : ",", hdr);
        first = false;
        if (digest) {
            printf(", \"count\": %d, \"fnv64\": \"%016llx\", \"detokenized_fnv64\": \"%016llx\"}", count,
                   (unsigned long long) fnv1a(FNV_INIT, toks, sizeof(llama_token) * (size_t) count),
                   (unsigned long long) fnv1a(FNV_INIT, detok, (size_t) dlen));
        } else {
            if (valid_utf8(text, n)) {
                printf(", \"text\": ");
                json_string(text, n);
            } else {
                printf(", \"text_hex\": \"");
                for (size_t i = 0; i < n; i++) printf("%02x", (unsigned char) text[i]);
                printf("\"");
            }
            printf(", \"tokens\": [");
            for (int32_t i = 0; i < count; i++) printf("%s%d", i ? ", " : "", toks[i]);
            printf("], ");
            if ((size_t) dlen == n && memcmp(detok, text, n) == 0) {
                printf("\"roundtrip\": true");
            } else if (valid_utf8(detok, (size_t) dlen)) {
                printf("\"detokenized\": ");
                json_string(detok, (size_t) dlen);
            } else {
                printf("\"detokenized_hex\": \"");
                for (int32_t i = 0; i < dlen; i++) printf("%02x", (unsigned char) detok[i]);
                printf("\"");
            }
            printf("}");
        }
        free(toks);
        free(detok);
    }
    printf("\n  ]\n}\n");
    free(all);
    llama_model_free(model);
    llama_backend_free();
    return 0;
}
