package models

import "time"

// Observer hears, as they happen, the events the portal's metrics count:
// audited commits, sign-in attempts, webhook attempts and audit chain
// verifications. Its methods run on the paths they report from, some
// holding the audit chain head, so each must return at once. Models keep
// no metrics library of their own: the metrics package implements this.
type Observer interface {
	// AuditCommitted follows each transaction that appended audit
	// entries: how many changes it carried, how long it took from its
	// start to its end, and whether it committed (err nil).
	AuditCommitted(changes int, took time.Duration, err error)
	// SignIn follows each sign-in step a member submits.
	SignIn(step SignInStep, outcome SignInOutcome)
	// WebhookAttempted follows each webhook attempt once it is recorded.
	WebhookAttempted(endpointID int64, outcome AttemptOutcome, latency time.Duration)
	// AuditVerified follows each walk of the whole audit chain.
	AuditVerified(outcome VerifyOutcome)
}

// SignInStep is the form a sign-in attempt submitted.
type SignInStep string

const (
	SignInPassword SignInStep = "password" // email and password
	SignInCode     SignInStep = "code"     // the second factor
	SignInOIDC     SignInStep = "oidc"     // the identity provider's answer
)

// SignInOutcome is how a sign-in step ended.
type SignInOutcome string

const (
	SignInSucceeded      SignInOutcome = "signed_in"          // the member is signed in
	SignInCodeRequired   SignInOutcome = "code_required"      // the password was right; the code comes next
	SignInEnrolRequired  SignInOutcome = "enrolment_required" // the password was right; the admin sets up two-step sign-in first
	SignInWrongPassword  SignInOutcome = "wrong_password"     // a member's password was wrong, or they have none yet
	SignInUnknownAccount SignInOutcome = "unknown_account"    // no member has that email
	SignInInactive       SignInOutcome = "inactive_member"    // the password was right, the member is invited or deactivated
	SignInWrongCode      SignInOutcome = "wrong_code"         // the code or recovery code was wrong
	SignInReplayedCode   SignInOutcome = "replayed_code"      // the code was already used
	SignInThrottled      SignInOutcome = "throttled"          // too many failures for the account or the address
	SignInBusy           SignInOutcome = "busy"               // no password-hashing slot in time
	SignInFailed         SignInOutcome = "error"              // the check itself failed (database, request ended)
	SignInSSORequired    SignInOutcome = "sso_required"       // the password was right, but only the break-glass admin may use one
	SignInRefusedByRules SignInOutcome = "refused"            // the provider vouched for someone Ledgerdesk turns down
)

// AttemptOutcome is what one webhook attempt led to.
type AttemptOutcome string

const (
	AttemptDelivered AttemptOutcome = "delivered" // a 2xx answered
	AttemptRetrying  AttemptOutcome = "retrying"  // it failed; another attempt follows a backoff
	AttemptGivenUp   AttemptOutcome = "given_up"  // it failed after the delivery's 24 hours
)

// VerifyOutcome is the end of a walk of the audit chain.
type VerifyOutcome string

const (
	VerifyIntact VerifyOutcome = "intact" // every entry verified
	VerifyBroken VerifyOutcome = "broken" // an entry did not
	VerifyFailed VerifyOutcome = "error"  // the walk could not finish
)

// Observe sends the events the Observer hears to o (nil: to no one).
func (db *DB) Observe(o Observer) {
	if o == nil {
		db.observer.Store(nil)
		return
	}
	db.observer.Store(&observerRef{o})
}

// observerRef holds an Observer in an atomic.Pointer: the committer's
// goroutines read it while serve sets it.
type observerRef struct{ Observer }

// observe is the observer to tell, a silent one when none is set.
func (db *DB) observe() Observer {
	if r := db.observer.Load(); r != nil {
		return r.Observer
	}
	return silentObserver{}
}

type silentObserver struct{}

func (silentObserver) AuditCommitted(int, time.Duration, error)              {}
func (silentObserver) SignIn(SignInStep, SignInOutcome)                      {}
func (silentObserver) WebhookAttempted(int64, AttemptOutcome, time.Duration) {}
func (silentObserver) AuditVerified(VerifyOutcome)                           {}
