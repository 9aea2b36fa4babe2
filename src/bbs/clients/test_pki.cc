#include "bbs/clients/test_pki.h"

#include <cstdio>
#include <memory>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

namespace bbs::clients {
namespace {

struct KeyDeleter {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
struct CertDeleter {
  void operator()(X509* cert) const { X509_free(cert); }
};
using KeyPtr = std::unique_ptr<EVP_PKEY, KeyDeleter>;
using CertPtr = std::unique_ptr<X509, CertDeleter>;

struct Identity {
  KeyPtr key;
  CertPtr cert;
};

bool AddExtension(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* extension = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  if (extension == nullptr) return false;
  bool ok = X509_add_ext(cert, extension, -1) == 1;
  X509_EXTENSION_free(extension);
  return ok;
}

// A certificate for `common_name`; self-signed when `issuer` is null.
Result<Identity> MakeIdentity(const char* common_name, const Identity* issuer, bool is_ca,
                              long serial) {
  Identity out;
  out.key.reset(EVP_RSA_gen(2048));
  out.cert.reset(X509_new());
  if (!out.key || !out.cert) return UnknownError("test pki: key generation failed");
  X509* cert = out.cert.get();
  X509_set_version(cert, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert), serial);
  X509_gmtime_adj(X509_getm_notBefore(cert), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert), 3600L * 24 * 365);
  X509_set_pubkey(cert, out.key.get());
  X509_NAME* name = X509_get_subject_name(cert);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(common_name), -1, -1, 0);
  X509* issuer_cert = issuer != nullptr ? issuer->cert.get() : cert;
  EVP_PKEY* issuer_key = issuer != nullptr ? issuer->key.get() : out.key.get();
  X509_set_issuer_name(cert, X509_get_subject_name(issuer_cert));
  bool ok = true;
  if (is_ca) {
    ok = AddExtension(cert, issuer_cert, NID_basic_constraints, "critical,CA:TRUE") &&
         AddExtension(cert, issuer_cert, NID_key_usage, "critical,keyCertSign,cRLSign") &&
         AddExtension(cert, issuer_cert, NID_subject_key_identifier, "hash");
  } else {
    ok = AddExtension(cert, issuer_cert, NID_basic_constraints, "critical,CA:FALSE") &&
         AddExtension(cert, issuer_cert, NID_key_usage,
                      "critical,digitalSignature,keyEncipherment") &&
         AddExtension(cert, issuer_cert, NID_ext_key_usage, "serverAuth,clientAuth") &&
         AddExtension(cert, issuer_cert, NID_subject_alt_name,
                      "IP:127.0.0.1,DNS:localhost,DNS:metron");
  }
  if (!ok) return UnknownError("test pki: adding extensions failed");
  if (X509_sign(cert, issuer_key, EVP_sha256()) == 0) return UnknownError("test pki: sign failed");
  return out;
}

Status WriteCert(const std::string& path, X509* cert) {
  FILE* file = std::fopen(path.c_str(), "w");
  if (file == nullptr) return UnknownError("test pki: cannot write " + path);
  bool ok = PEM_write_X509(file, cert) == 1;
  std::fclose(file);
  return ok ? Status::Ok() : UnknownError("test pki: writing " + path + " failed");
}

Status WriteKey(const std::string& path, EVP_PKEY* key) {
  FILE* file = std::fopen(path.c_str(), "w");
  if (file == nullptr) return UnknownError("test pki: cannot write " + path);
  bool ok = PEM_write_PrivateKey(file, key, nullptr, nullptr, 0, nullptr, nullptr) == 1;
  std::fclose(file);
  return ok ? Status::Ok() : UnknownError("test pki: writing " + path + " failed");
}

}  // namespace

Result<TestPki> TestPki::Create(const std::string& directory) {
  auto ca = MakeIdentity("bbs test CA", nullptr, true, 1);
  if (!ca.ok()) return ca.status();
  auto server = MakeIdentity("127.0.0.1", &*ca, false, 2);
  if (!server.ok()) return server.status();
  auto client = MakeIdentity("bbs test client", &*ca, false, 3);
  if (!client.ok()) return client.status();
  auto other_ca = MakeIdentity("another CA", nullptr, true, 4);
  if (!other_ca.ok()) return other_ca.status();
  auto untrusted = MakeIdentity("127.0.0.1", &*other_ca, false, 5);
  if (!untrusted.ok()) return untrusted.status();

  TestPki pki;
  pki.ca_file = directory + "/ca.crt";
  pki.server_cert_file = directory + "/server.crt";
  pki.server_key_file = directory + "/server.key";
  pki.client_cert_file = directory + "/client.crt";
  pki.client_key_file = directory + "/client.key";
  pki.untrusted_cert_file = directory + "/untrusted.crt";
  pki.untrusted_key_file = directory + "/untrusted.key";
  for (Status status :
       {WriteCert(pki.ca_file, ca->cert.get()), WriteCert(pki.server_cert_file, server->cert.get()),
        WriteKey(pki.server_key_file, server->key.get()),
        WriteCert(pki.client_cert_file, client->cert.get()),
        WriteKey(pki.client_key_file, client->key.get()),
        WriteCert(pki.untrusted_cert_file, untrusted->cert.get()),
        WriteKey(pki.untrusted_key_file, untrusted->key.get())}) {
    if (!status.ok()) return status;
  }
  return pki;
}

}  // namespace bbs::clients
