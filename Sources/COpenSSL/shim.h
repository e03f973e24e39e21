#ifndef PYRPC_COPENSSL_SHIM_H
#define PYRPC_COPENSSL_SHIM_H
// The system's OpenSSL 3 (Debian's libssl-dev). OpenSSL spells several calls as macros, which
// Swift cannot call: they are wrapped here, with the one loop over a certificate's names.
#include <openssl/ssl.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <openssl/pem.h>
#include <string.h>

static inline long pyrpc_ssl_ctx_set_mode(SSL_CTX *context, long mode) { return SSL_CTX_set_mode(context, mode); }
static inline long pyrpc_ssl_mode_nonblocking(void) {
    return SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER;
}
/// Per-call costs a server does without: no session cache (TLS 1.3 tickets carry the session,
/// and OpenSSL 3.0 walks the whole cache every 255 handshakes to expire entries), and records
/// read with as few read() calls as the socket allows.
static inline void pyrpc_ssl_ctx_tune_server(SSL_CTX *context) {
    SSL_CTX_set_session_cache_mode(context, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_read_ahead(context, 1);
}
static inline int pyrpc_ssl_ctx_set_min_tls12(SSL_CTX *context) { return (int)SSL_CTX_set_min_proto_version(context, TLS1_2_VERSION); }
static inline uint64_t pyrpc_ssl_server_options(void) {
    return SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_COMPRESSION;
}
static inline long pyrpc_ssl_set_host_name(SSL *ssl, const char *name) { return SSL_set_tlsext_host_name(ssl, name); }
static inline long pyrpc_ssl_ctx_add1_chain_cert(SSL_CTX *context, X509 *certificate) { return SSL_CTX_add1_chain_cert(context, certificate); }
/// An empty memory BIO means "wait for more" (a retry), not the end of the stream.
static inline long pyrpc_bio_mem_empty_is_retry(BIO *bio) { return BIO_set_mem_eof_return(bio, -1); }
/// Shares session-ticket keys between processes (80 bytes: name, HMAC and AES keys), so a
/// ticket one worker issued resumes in another.
static inline long pyrpc_ssl_ctx_set_ticket_keys(SSL_CTX *context, unsigned char *keys, long length) {
    return SSL_CTX_set_tlsext_ticket_keys(context, keys, length);
}

/// The names a certificate carries: its subject CN, then each DNS SAN, each followed by a
/// newline, in `buffer` (truncated at `size`). Returns the bytes written.
static inline int pyrpc_x509_names(X509 *certificate, char *buffer, int size) {
    int used = 0;
    char name[256];
    int length = X509_NAME_get_text_by_NID(X509_get_subject_name(certificate), NID_commonName, name, sizeof name);
    if (length > 0 && used + length + 1 <= size) { memcpy(buffer + used, name, length); used += length; buffer[used++] = '\n'; }
    GENERAL_NAMES *names = X509_get_ext_d2i(certificate, NID_subject_alt_name, NULL, NULL);
    if (names != NULL) {
        for (int index = 0; index < sk_GENERAL_NAME_num(names); index++) {
            const GENERAL_NAME *entry = sk_GENERAL_NAME_value(names, index);
            if (entry->type != GEN_DNS) continue;
            const unsigned char *text = ASN1_STRING_get0_data(entry->d.dNSName);
            int count = ASN1_STRING_length(entry->d.dNSName);
            if (count <= 0 || used + count + 1 > size || memchr(text, 0, count) != NULL) continue;
            memcpy(buffer + used, text, count);
            used += count;
            buffer[used++] = '\n';
        }
        GENERAL_NAMES_free(names);
    }
    return used;
}

/// The names of a peer's certificate (`pyrpc_x509_names`), or -1 when it sent none.
static inline int pyrpc_ssl_peer_names(SSL *ssl, char *buffer, int size) {
    X509 *certificate = SSL_get0_peer_certificate(ssl);
    if (certificate == NULL) return -1;
    return pyrpc_x509_names(certificate, buffer, size);
}
#endif
