#include "auth/authenticator.h"

#include <array>

#include "auth/stored_credentials.h"
#include "auth/user_files.h"
#include "identity/users.h"

namespace openbits::auth {
namespace {

// The ranking, best first (curl's pickoneauth order, Passport last).
constexpr std::array<AuthScheme, 5> kRanking = {AuthScheme::kNegotiate, AuthScheme::kNtlm,
                                                AuthScheme::kDigest, AuthScheme::kBasic,
                                                AuthScheme::kPassport};

bool IsIntegrated(AuthScheme scheme) {
  return scheme == AuthScheme::kNtlm || scheme == AuthScheme::kNegotiate;
}

}  // namespace

core::FileOwner FileOwnerOf(const Identity& identity) {
  return {identity.uid, identity::PrimaryGid(identity.uid)};
}

std::optional<AuthScheme> SchemeOfChallenge(const std::string& name) {
  if (name == "basic") return AuthScheme::kBasic;
  if (name == "digest") return AuthScheme::kDigest;
  if (name == "ntlm") return AuthScheme::kNtlm;
  if (name == "negotiate") return AuthScheme::kNegotiate;
  if (name == "passport1.4") return AuthScheme::kPassport;
  return std::nullopt;
}

Authenticator::Authenticator(AuthTarget target, const core::CredentialSet& credentials,
                             const AuthPolicy& policy, Identity identity, SideChannel* side_channel)
    : target_(target),
      credentials_(credentials),
      policy_(policy),
      identity_(std::move(identity)),
      side_channel_(side_channel) {}
Authenticator::~Authenticator() = default;
Authenticator::Authenticator(Authenticator&&) noexcept = default;
Authenticator& Authenticator::operator=(Authenticator&&) noexcept = default;

Result<core::Credential> Authenticator::CredentialFor(AuthScheme scheme,
                                                      const RequestInfo& request) const {
  if (const core::Credential* own = credentials_.Find(target_, scheme)) return *own;
  std::optional<Error> no_stored;
  if (credentials_.UsesStored(target_) && scheme != AuthScheme::kPassport) {
    // Read as the network identity (the owner, or the helper with BG_TOKEN_NETWORK).
    auto path = ExpandUserPath(policy_.stored_credentials_file, identity_.uid);
    auto stored =
        path ? StoredCredentialFor(*path, FileOwnerOf(identity_), request.host, target_, scheme)
             : Result<core::Credential>(path.error());
    if (stored) return stored;
    no_stored = stored.error();
  }
  if (auto implicit = ImplicitCredentialFor(scheme)) return std::move(*implicit);
  if (no_stored) return *no_stored;
  return Error(hr::E_ACCESSDENIED, ErrorContext::kNone,
               IsIntegrated(scheme)
                   ? "the job has no credentials for it (SetCredentials, or NULL NULL for "
                     "implicit ones; use_lm_compat = " +
                         std::to_string(policy_.use_lm_compat) + ")"
                   : "the job has no credentials for it");
}

std::optional<core::Credential> Authenticator::ImplicitCredentialFor(AuthScheme scheme) const {
  if (!IsIntegrated(scheme)) return std::nullopt;
  // Implicit credentials set for the proxy also serve the server, unless the job has
  // explicit server credentials (the BITS authentication documentation).
  if (target_ == AuthTarget::kServer) {
    bool explicit_server = false, implicit_proxy = false;
    for (const core::Credential& slot : credentials_.all()) {
      if (slot.target == AuthTarget::kServer && !slot.implicit) explicit_server = true;
      if (slot.target == AuthTarget::kProxy && slot.implicit) implicit_proxy = true;
    }
    if (implicit_proxy && !explicit_server) {
      for (AuthScheme integrated : {scheme, AuthScheme::kNegotiate, AuthScheme::kNtlm}) {
        if (const core::Credential* proxy = credentials_.Find(AuthTarget::kProxy, integrated);
            proxy && proxy->implicit) {
          core::Credential borrowed = *proxy;
          borrowed.target = AuthTarget::kServer;
          borrowed.scheme = scheme;
          return borrowed;
        }
      }
    }
  }
  // UseLMCompat 0, or 1 with LmCompatibilityLevel >= 2: implicit credentials without a call.
  if (policy_.use_lm_compat == 0 ||
      (policy_.use_lm_compat == 1 && policy_.lm_compatibility_level >= 2)) {
    core::Credential implicit;
    implicit.target = target_;
    implicit.scheme = scheme;
    implicit.implicit = true;
    return implicit;
  }
  return std::nullopt;
}

Result<std::unique_ptr<Mechanism>> Authenticator::MakeMechanism(AuthScheme scheme,
                                                                const RequestInfo& request) const {
  auto credential = CredentialFor(scheme, request);
  if (!credential) return credential.error();
  switch (scheme) {
    case AuthScheme::kBasic:
      // For a proxy the question is the proxy connection; proxies are plain http here.
      if (!request.secure && !policy_.allow_basic_over_http) {
        return Error(hr::E_ACCESSDENIED, ErrorContext::kNone,
                     "Basic would send the password in the clear over http (set [auth] "
                     "allow_basic_over_http = true to allow it)");
      }
      return MakeBasic(*credential);
    case AuthScheme::kDigest:
      return MakeDigest(*credential);
    case AuthScheme::kNegotiate:
      // A refused exchange is retried with NTLM alone (see negotiate.cc).
      return MakeNegotiate(*credential, identity_, Refusals(scheme) > 0);
    case AuthScheme::kNtlm:
      if (credential->implicit) {
        // Logon credentials for NTLM: the caller's NTLM_USER_FILE, as gss-ntlmssp uses it,
        // else the identity's own account file ([auth] ntlm_user_file), read as the identity.
        std::string path = credential->ntlm_user_file;
        if (path.empty()) {
          auto own = ExpandUserPath(policy_.ntlm_user_file, identity_.uid);
          if (!own) return own.error();
          path = std::move(*own);
        }
        auto account = NtlmCredentialFromUserFile(path, FileOwnerOf(identity_));
        if (!account) return account.error();
        return MakeNtlm(*account, policy_.lm_compatibility_level);
      }
      return MakeNtlm(*credential, policy_.lm_compatibility_level);
    case AuthScheme::kPassport:
      return MakePassport(*credential, side_channel_, policy_.passport_nexus_url);
  }
  return Error(hr::E_NOTIMPL, ErrorContext::kNone, "unknown scheme");
}

int Authenticator::Refusals(AuthScheme scheme) const {
  const auto it = refusals_.find(scheme);
  return it == refusals_.end() ? 0 : it->second;
}

void Authenticator::Note(AuthScheme scheme, const std::string& reason) {
  reasons_.push_back(std::string(AuthSchemeName(scheme)) + ": " + reason);
}

std::optional<SecretString> Authenticator::Preemptive(const RequestInfo& request) {
  if (!current_ || !current_accepted_ || !current_->Reusable()) return std::nullopt;
  auto value = current_->Respond(request);
  if (!value) return std::nullopt;
  return std::move(*value);
}

void Authenticator::Accepted() {
  if (current_) current_accepted_ = true;
}

Result<SecretString> Authenticator::Answer(const std::vector<Challenge>& challenges,
                                           const RequestInfo& request) {
  auto offered = [&](AuthScheme scheme) -> const Challenge* {
    for (const Challenge& challenge : challenges) {
      if (SchemeOfChallenge(challenge.scheme) == scheme) return &challenge;
    }
    return nullptr;
  };
  // The exchange under way: its next leg, or its refusal.
  if (current_) {
    const AuthScheme scheme = current_->scheme();
    const Challenge* challenge = offered(scheme);
    Status read = challenge ? current_->ReadChallenge(*challenge)
                            : Status(Error(hr::E_ACCESSDENIED, ErrorContext::kNone,
                                           "the server no longer offers it"));
    if (read) {
      auto value = current_->Respond(request);
      if (value) return value;
      read = value.error();
    }
    ++refusals_[scheme];
    Note(scheme, read.error().message());
    current_.reset();
    current_accepted_ = false;
  }
  for (AuthScheme scheme : kRanking) {
    const Challenge* challenge = offered(scheme);
    if (!challenge || unusable_.contains(scheme) || Refusals(scheme) >= 2) continue;
    auto mechanism = MakeMechanism(scheme, request);
    if (!mechanism) {
      unusable_.insert(scheme);
      Note(scheme, mechanism.error().message());
      continue;
    }
    const Status ready = (*mechanism)->ReadChallenge(*challenge);
    Result<SecretString> value =
        ready ? (*mechanism)->Respond(request) : Result<SecretString>(ready.error());
    if (!value) {
      unusable_.insert(scheme);
      Note(scheme, value.error().message());
      continue;
    }
    current_ = std::move(*mechanism);
    return value;
  }
  std::string offered_names;
  for (const Challenge& challenge : challenges) {
    offered_names += (offered_names.empty() ? "" : ", ") + challenge.scheme;
  }
  std::string why =
      offered_names.empty() ? "no authentication scheme was offered" : "offered " + offered_names;
  for (const std::string& reason : reasons_) why += "; " + reason;
  return Error(hr::E_ACCESSDENIED, ErrorContext::kNone, why);
}

}  // namespace openbits::auth
