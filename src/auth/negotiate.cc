// Negotiate (RFC 4559): SPNEGO through MIT krb5's GSS-API, target HTTP@host (the proxy's host
// for proxy authentication). Kerberos, or NTLM inside SPNEGO where gss-ntlmssp is installed.
//
// Credentials are acquired per exchange for one identity and handed to gss_init_sec_context
// explicitly, so no process- or thread-wide state (KRB5CCNAME) is involved and two users'
// transfers never see each other's tickets:
// - explicit: gss_acquire_cred_with_password (an AS exchange; the ticket stays in memory);
// - implicit: gss_acquire_cred_from with a private MEMORY: copy of the identity's credential
//   cache, read once as that identity (user_ccache.h): a client may not point bitsd at
//   someone else's tickets (DESIGN.md 3), nor swap its path for theirs after the check.
#include <gssapi/gssapi.h>
#include <gssapi/gssapi_ext.h>
#include <krb5.h>
#include <profile.h>

#include "auth/mechanism.h"
#include "auth/user_ccache.h"

namespace openbits::auth {
namespace {

gss_OID_desc kSpnegoOid = {6, const_cast<char*>("\x2b\x06\x01\x05\x05\x02")};
// NTLMSSP (1.3.6.1.4.1.311.2.2.10), the mechanism of gss-ntlmssp.
gss_OID_desc kNtlmsspOid = {10, const_cast<char*>("\x2b\x06\x01\x04\x01\x82\x37\x02\x02\x0a")};

// The text of a GSS-API status pair, for error messages.
std::string GssMessage(OM_uint32 major, OM_uint32 minor) {
  std::string text;
  for (auto [code, type] : {std::pair{major, GSS_C_GSS_CODE}, std::pair{minor, GSS_C_MECH_CODE}}) {
    if (type == GSS_C_MECH_CODE && code == 0) continue;
    OM_uint32 context = 0, ignored = 0;
    do {
      gss_buffer_desc buffer = GSS_C_EMPTY_BUFFER;
      gss_display_status(&ignored, code, type, GSS_C_NO_OID, &context, &buffer);
      if (!text.empty()) text += "; ";
      text.append(static_cast<const char*>(buffer.value), buffer.length);
      gss_release_buffer(&ignored, &buffer);
    } while (context != 0);
  }
  return text;
}

// The default credential cache of `uid`: krb5.conf's default_ccache_name with %{uid} expanded,
// else MIT's built-in FILE:/tmp/krb5cc_<uid>.
std::string DefaultCacheFor(std::uint32_t uid) {
  std::string name;
  krb5_context context = nullptr;
  if (krb5_init_context(&context) == 0) {
    profile_t profile = nullptr;
    if (krb5_get_profile(context, &profile) == 0) {
      char* value = nullptr;
      if (profile_get_string(profile, "libdefaults", "default_ccache_name", nullptr, nullptr,
                             &value) == 0 &&
          value) {
        name = value;
      }
      profile_release_string(value);
      profile_release(profile);
    }
    krb5_free_context(context);
  }
  if (name.empty()) name = "FILE:/tmp/krb5cc_%{uid}";
  for (const char* token : {"%{uid}", "%{euid}", "%{USERID}"}) {
    for (std::size_t at; (at = name.find(token)) != std::string::npos;) {
      name.replace(at, std::string_view(token).size(), std::to_string(uid));
    }
  }
  return name;
}

class Negotiate : public Mechanism {
 public:
  Negotiate(const core::Credential& credential, const Identity& identity, bool ntlm_only)
      : credential_(credential), identity_(identity), ntlm_only_(ntlm_only) {}
  ~Negotiate() override {
    OM_uint32 minor = 0;
    if (context_ != GSS_C_NO_CONTEXT) gss_delete_sec_context(&minor, &context_, GSS_C_NO_BUFFER);
    if (credentials_ != GSS_C_NO_CREDENTIAL) gss_release_cred(&minor, &credentials_);
    if (target_ != GSS_C_NO_NAME) gss_release_name(&minor, &target_);
    // cache_ (the MEMORY: copy the credentials refer to) goes after them.
  }
  AuthScheme scheme() const override { return AuthScheme::kNegotiate; }

  Status ReadChallenge(const Challenge& challenge) override {
    if (!answered_) return Ok();
    if (challenge.token68.empty() || complete_) {
      return Error(hr::E_ACCESSDENIED, ErrorContext::kNone, "the server refused the credentials");
    }
    auto token = Base64Decode(challenge.token68);
    if (!token) {
      return Error(hr::E_INVALIDARG, ErrorContext::kNone, "the Negotiate token is not base64");
    }
    input_ = std::move(*token);
    return Ok();
  }

  Result<SecretString> Respond(const RequestInfo& request) override {
    OPENBITS_RETURN_IF_ERROR(Acquire());
    OM_uint32 major = 0, minor = 0;
    if (target_ == GSS_C_NO_NAME) {
      const std::string service = "HTTP@" + request.host;
      gss_buffer_desc name{service.size(), const_cast<char*>(service.data())};
      major = gss_import_name(&minor, &name, GSS_C_NT_HOSTBASED_SERVICE, &target_);
      if (GSS_ERROR(major)) return Failure("name the service " + service, major, minor);
    }
    gss_buffer_desc input{input_.size(), input_.data()};
    gss_buffer_desc output = GSS_C_EMPTY_BUFFER;
    major = gss_init_sec_context(&minor, credentials_, &context_, target_, &kSpnegoOid, 0, 0,
                                 GSS_C_NO_CHANNEL_BINDINGS, answered_ ? &input : GSS_C_NO_BUFFER,
                                 nullptr, &output, nullptr, nullptr);
    if (GSS_ERROR(major)) {
      gss_release_buffer(&minor, &output);
      return Failure("start a security context with HTTP@" + request.host, major, minor);
    }
    complete_ = major == GSS_S_COMPLETE;
    answered_ = true;
    SecretString value("Negotiate " + Base64Encode(std::string_view(
                                          static_cast<const char*>(output.value), output.length)));
    gss_release_buffer(&minor, &output);
    return value;
  }

 private:
  static Error Failure(const std::string& what, OM_uint32 major, OM_uint32 minor) {
    return Error(hr::E_ACCESSDENIED, ErrorContext::kNone,
                 "Failed to " + what + ": " + GssMessage(major, minor));
  }

  Status Acquire() {
    if (credentials_ != GSS_C_NO_CREDENTIAL) return Ok();
    OM_uint32 major = 0, minor = 0;
    gss_OID_set_desc mechs{1, &kSpnegoOid};
    if (credential_.implicit) {
      const std::string cache = !credential_.credential_cache.empty() ? credential_.credential_cache
                                : !identity_.credential_cache.empty()
                                    ? identity_.credential_cache
                                    : DefaultCacheFor(identity_.uid);
      auto copy = MemoryCredentialCache::CopyOf(FileOwnerOf(identity_), cache);
      if (!copy) {
        return Error(
            copy.error().code(), copy.error().context(),
            "no Kerberos credential cache can be used (kinit?): " + copy.error().message());
      }
      cache_ = std::move(*copy);
      gss_key_value_element_desc element{"ccache", cache_->name().c_str()};
      gss_key_value_set_desc store{1, &element};
      major = gss_acquire_cred_from(&minor, GSS_C_NO_NAME, GSS_C_INDEFINITE, &mechs, GSS_C_INITIATE,
                                    &store, &credentials_, nullptr, nullptr);
      if (GSS_ERROR(major)) return Failure("use the Kerberos tickets in " + cache, major, minor);
      return RestrictToNtlm();
    }
    gss_name_t user = GSS_C_NO_NAME;
    const std::string_view user_name = credential_.user.reveal();
    gss_buffer_desc name{user_name.size(), const_cast<char*>(user_name.data())};
    major = gss_import_name(&minor, &name, GSS_C_NT_USER_NAME, &user);
    if (GSS_ERROR(major)) return Failure("read the user name", major, minor);
    const std::string_view secret = credential_.password.reveal();
    gss_buffer_desc password{secret.size(), const_cast<char*>(secret.data())};
    major = gss_acquire_cred_with_password(&minor, user, &password, GSS_C_INDEFINITE, &mechs,
                                           GSS_C_INITIATE, &credentials_, nullptr, nullptr);
    OM_uint32 ignored = 0;
    gss_release_name(&ignored, &user);
    if (GSS_ERROR(major)) return Failure("log on with the given password", major, minor);
    return RestrictToNtlm();
  }

  // The retry after a refused exchange offers NTLM alone: gss-ntlmssp behind mod_auth_gssapi
  // fails an exchange that starts with an optimistic Kerberos token and switches to NTLM, but
  // accepts one that starts with NTLM.
  Status RestrictToNtlm() {
    if (!ntlm_only_) return Ok();
    gss_OID_set_desc only{1, &kNtlmsspOid};
    OM_uint32 minor = 0;
    const OM_uint32 major = gss_set_neg_mechs(&minor, credentials_, &only);
    if (GSS_ERROR(major)) return Failure("offer NTLM alone inside SPNEGO", major, minor);
    return Ok();
  }

  const core::Credential credential_;
  const Identity identity_;
  const bool ntlm_only_;
  std::unique_ptr<MemoryCredentialCache> cache_;
  gss_cred_id_t credentials_ = GSS_C_NO_CREDENTIAL;
  gss_ctx_id_t context_ = GSS_C_NO_CONTEXT;
  gss_name_t target_ = GSS_C_NO_NAME;
  std::string input_;
  bool answered_ = false;
  bool complete_ = false;
};

}  // namespace

std::unique_ptr<Mechanism> MakeNegotiate(const core::Credential& credential,
                                         const Identity& identity, bool ntlm_only) {
  return std::make_unique<Negotiate>(credential, identity, ntlm_only);
}

}  // namespace openbits::auth
