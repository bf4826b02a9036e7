package exchangetest

import (
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Resources a client-credentials scope ("<resource>/.default") may name. Exchange accepts
// tokens for the first two; a Graph token is issued but rejected at AUTH (535 5.7.3).
const (
	resourceExchange       = "https://outlook.office365.com"
	resourceExchangeLegacy = "https://outlook.office.com"
	resourceGraph          = "https://graph.microsoft.com"
)

var knownResources = map[string]bool{resourceExchange: true, resourceExchangeLegacy: true, resourceGraph: true}

// accessClaims is the payload of an app-only (v1.0) access token as Entra issues it for
// Exchange Online, filler claims included so tokens have a realistic size.
type accessClaims struct {
	Aud            string   `json:"aud"`
	Iss            string   `json:"iss"`
	Iat            int64    `json:"iat"`
	Nbf            int64    `json:"nbf"`
	Exp            int64    `json:"exp"`
	Aio            string   `json:"aio"`
	AppDisplayName string   `json:"app_displayname"`
	AppID          string   `json:"appid"`
	AppIDAcr       string   `json:"appidacr"`
	Idp            string   `json:"idp"`
	IdTyp          string   `json:"idtyp"`
	Oid            string   `json:"oid"`
	Rh             string   `json:"rh"`
	Roles          []string `json:"roles,omitempty"`
	Sid            string   `json:"sid"`
	Sub            string   `json:"sub"`
	Tid            string   `json:"tid"`
	Uti            string   `json:"uti"`
	Ver            string   `json:"ver"`
	Wids           []string `json:"wids"`
	XmsFtd         string   `json:"xms_ftd"`
	XmsIdrel       string   `json:"xms_idrel"`
	XmsRd          string   `json:"xms_rd"`
}

type tokenResponse struct {
	TokenType    string `json:"token_type"`
	ExpiresIn    int64  `json:"expires_in"`
	ExtExpiresIn int64  `json:"ext_expires_in"`
	AccessToken  string `json:"access_token"`
}

// aadErrors are the Entra ID errors the endpoint gives: HTTP status, OAuth error and the
// text after "AADSTSnnnn: ".
var aadErrors = map[int]struct {
	status      int
	error, text string
}{
	90002:   {400, "invalid_request", "Tenant '%s' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant."},
	900023:  {400, "invalid_request", "Specified tenant identifier '%s' is neither a valid DNS name, nor a valid external domain."},
	900144:  {400, "invalid_request", "The request body must contain the following parameter: '%s'."},
	70003:   {400, "unsupported_grant_type", "The app requested an unsupported grant type '%s'."},
	70011:   {400, "invalid_scope", "The provided value for the input parameter 'scope' is not valid. The scope %s is not valid."},
	500011:  {400, "invalid_resource", "The resource principal named %s was not found in the tenant named %s. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You might have sent your authentication request to the wrong tenant."},
	700016:  {400, "unauthorized_client", "Application with identifier '%s' was not found in the directory '%s'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant."},
	7000218: {401, "invalid_client", "The request body must contain the following parameter: 'client_assertion' or 'client_secret'."},
	7000215: {401, "invalid_client", "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '%s'."},
	7000222: {401, "invalid_client", "The provided client secret keys for app '%s' are expired. Visit the Azure portal to create new keys for your app: https://aka.ms/NewClientSecret, or consider using certificate credentials for added security: https://aka.ms/certCreds."},
	90033:   {503, "temporarily_unavailable", "A transient error has occurred. Please try again."},
}

// aadError is a failed token request: the AADSTS number and the arguments of its text.
type aadError struct {
	code int
	args []any
}

func aad(code int, args ...any) *aadError { return &aadError{code, args} }

// handleToken serves POST /{tenant}/oauth2/v2.0/token (client-credentials grant only).
func (s *Server) handleToken(w http.ResponseWriter, r *http.Request) {
	s.stats.tokenRequests.Add(1)
	if !sleepCtx(r.Context(), time.Duration(s.faults.tokenLatency.Load())) {
		return
	}
	correlationID := r.Header.Get("client-request-id")
	if !isGUID(correlationID) {
		correlationID = newGUID()
	}
	if s.faults.tokenDown.Load() {
		s.writeAADError(w, aad(90033), correlationID)
		return
	}
	token, e := s.grantToken(r)
	if e != nil {
		s.log.Info("exchangetest: token request refused", "aadsts", e.code, "tenant", r.PathValue("tenant"))
		s.writeAADError(w, e, correlationID)
		return
	}
	s.stats.tokensIssued.Add(1)
	lifetime := int64(s.opts.TokenLifetime / time.Second)
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store, no-cache")
	json.NewEncoder(w).Encode(tokenResponse{TokenType: "Bearer", ExpiresIn: lifetime, ExtExpiresIn: lifetime, AccessToken: token})
}

// grantToken checks a client-credentials request in Entra's order (tenant, grant type,
// client ID, scope, application, secret) and signs an access token.
func (s *Server) grantToken(r *http.Request) (string, *aadError) {
	ref := r.PathValue("tenant")
	if !isGUID(ref) && !isDNSName(ref) {
		return "", aad(900023, ref)
	}
	t, ok := s.model.resolveTenant(ref)
	if !ok {
		return "", aad(90002, ref)
	}
	if err := r.ParseForm(); err != nil {
		return "", aad(900144, "grant_type")
	}
	clientID, secret := r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	if id, sec, ok := r.BasicAuth(); ok && clientID == "" { // client_secret_basic
		clientID, _ = url.QueryUnescape(id)
		secret, _ = url.QueryUnescape(sec)
	}
	switch grant := r.PostForm.Get("grant_type"); {
	case grant == "":
		return "", aad(900144, "grant_type")
	case grant != "client_credentials":
		return "", aad(70003, grant)
	case clientID == "":
		return "", aad(900144, "client_id")
	}
	scope := r.PostForm.Get("scope")
	resource, ok := strings.CutSuffix(scope, "/.default")
	switch {
	case scope == "":
		return "", aad(900144, "scope")
	case !ok || strings.ContainsAny(scope, " ") || resource == "":
		return "", aad(70011, scope)
	case !knownResources[resource]:
		return "", aad(500011, resource, t.domain)
	}
	a, ok := s.model.app(clientID)
	if !ok || a.tenantID != t.id {
		return "", aad(700016, clientID, t.domain)
	}
	switch {
	case secret == "":
		return "", aad(7000218)
	case subtle.ConstantTimeCompare([]byte(secret), []byte(a.secret)) != 1:
		return "", aad(7000215, a.clientID)
	case a.secretExpired:
		return "", aad(7000222, a.clientID)
	}
	token, err := s.signer.sign(s.claimsFor(t, a, resource))
	if err != nil {
		return "", aad(90033)
	}
	s.log.Info("exchangetest: token issued", "tenant", t.id, "client_id", a.clientID, "aud", resource)
	return token, nil
}

// claimsFor builds an access token's payload. Like Entra, iat and nbf lie five minutes in
// the past; exp is now plus the token lifetime.
func (s *Server) claimsFor(t tenant, a app, resource string) accessClaims {
	now := s.now()
	issuer := "https://sts.windows.net/" + t.id + "/"
	c := accessClaims{
		Aud: resource, Iss: issuer, Idp: issuer,
		Iat: now.Add(-5 * time.Minute).Unix(), Nbf: now.Add(-5 * time.Minute).Unix(),
		Exp:            now.Add(s.opts.TokenLifetime).Unix(),
		Aio:            "E2Rg" + randomString(88, b64chars) + "==",
		AppDisplayName: a.displayName, AppID: a.clientID, AppIDAcr: "1",
		IdTyp: "app", Oid: a.spObjectID, Sub: a.spObjectID, Tid: t.id,
		Rh:       "1.AXEA" + randomString(76, b64chars) + ".",
		Sid:      newGUID(),
		Uti:      randomString(22, b64chars),
		Ver:      "1.0",
		Wids:     []string{"0997a1d0-0d1d-4acb-b408-d5ca73121e90"},
		XmsFtd:   randomString(64, b64chars),
		XmsIdrel: "7 14",
		XmsRd:    "0.42Lj" + randomString(96, b64chars),
	}
	if resource != resourceGraph {
		c.Roles = []string{"SMTP.SendAsApp"}
	}
	return c
}

const b64chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

type aadErrorBody struct {
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description"`
	ErrorCodes       []int  `json:"error_codes"`
	Timestamp        string `json:"timestamp"`
	TraceID          string `json:"trace_id"`
	CorrelationID    string `json:"correlation_id"`
	ErrorURI         string `json:"error_uri"`
}

func (s *Server) writeAADError(w http.ResponseWriter, e *aadError, correlationID string) {
	def := aadErrors[e.code]
	traceID := newGUID()
	ts := s.now().UTC().Format("2006-01-02 15:04:05Z")
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store, no-cache")
	w.Header().Set("x-ms-request-id", traceID)
	w.WriteHeader(def.status)
	json.NewEncoder(w).Encode(aadErrorBody{
		Error: def.error,
		ErrorDescription: fmt.Sprintf("AADSTS%d: %s\r\nTrace ID: %s\r\nCorrelation ID: %s\r\nTimestamp: %s",
			e.code, fmt.Sprintf(def.text, e.args...), traceID, correlationID, ts),
		ErrorCodes:    []int{e.code},
		Timestamp:     ts,
		TraceID:       traceID,
		CorrelationID: correlationID,
		ErrorURI:      fmt.Sprintf("https://login.microsoftonline.com/error?code=%d", e.code),
	})
}
