package models

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"gorm.io/gorm"

	"ledgerdesk/models/text"
)

// Four-eyes approvals. While the setting is on (approval_settings.go), the
// portal's most damaging actions are written as requests: who asked, what,
// about which record, why, and what the record looked like then. Another
// admin approves, which runs the action's own domain code in the
// transaction that records the approval, or denies. The request entry, the
// decision and the action's own entry all name the request's id
// (approval_request) and the same target, so the log and the target's
// history show them together. The JSON API is governed by its keys'
// scopes and never waits for an approval.

// Actions that can wait for approval. Each is the audit action it runs,
// but for team.make_admin, which runs team.role_change to admin.
const (
	ApproveUserRemove    = "user.remove"
	ApproveTokenRotate   = "user.token_rotate"
	ApproveMakeAdmin     = "team.make_admin"
	ApproveMFAReset      = "team.mfa_reset"
	ApproveAPIKeyCreate  = "api_key.create"
	ApproveWebhookDelete = "webhook.delete"
)

// States of an approval request. A pending request past its expiry is
// expired whether or not its row says so yet (StateAt).
const (
	ApprovalPending  = "pending"
	ApprovalApproved = "approved"
	ApprovalDenied   = "denied"
	ApprovalFailed   = "failed"
	ApprovalExpired  = "expired"
)

// Audit actions of approval requests.
const (
	ActionApprovalRequest = "approval.request"
	ActionApprovalApprove = "approval.approve"
	ActionApprovalDeny    = "approval.deny"
	ActionApprovalFail    = "approval.fail"
)

// MaxApprovalReason bounds a request's reason and a decision's comment,
// in characters.
const MaxApprovalReason = 500

// ApprovalRequest is one action waiting for, or decided by, a second admin.
type ApprovalRequest struct {
	ID          int64 `gorm:"primaryKey"`
	Action      string
	State       string
	TargetType  string
	TargetID    string
	TargetLabel string
	Params      string
	Seen        string
	Reason      string
	RequestedBy string
	RequestedAt time.Time
	ExpiresAt   time.Time
	DecidedBy   string
	DecidedAt   *time.Time
	Comment     string
}

func (ApprovalRequest) TableName() string { return "approval_requests" }

// Target is the record the request is about.
func (r *ApprovalRequest) Target() Target { return Target{Type: r.TargetType, ID: r.TargetID} }

// StateAt is the request's state at now: a pending request past its
// expiry is expired.
func (r *ApprovalRequest) StateAt(now time.Time) string {
	if r.State == ApprovalPending && !now.Before(r.ExpiresAt) {
		return ApprovalExpired
	}
	return r.State
}

// Label says what the request asks for, as pages list it: "Remove end
// user acme-42".
func (r *ApprovalRequest) Label() string {
	k, ok := approvalKinds[r.Action]
	if !ok {
		return r.Action
	}
	return k.label + " " + r.TargetLabel
}

// ApprovalActionLabel names an action that can wait for approval.
func ApprovalActionLabel(action string) string {
	if k, ok := approvalKinds[action]; ok {
		return k.label
	}
	return action
}

func (r *ApprovalRequest) params() map[string]string {
	var p map[string]string
	_ = json.Unmarshal([]byte(r.Params), &p)
	return p
}

func (r *ApprovalRequest) seen() map[string]string {
	var s map[string]string
	_ = json.Unmarshal([]byte(r.Seen), &s)
	return s
}

// approvalKind is what an action needs to wait for approval.
type approvalKind struct {
	targetType string
	label      string
	noun       string // the target, as a 409 names it
	// look reads the target (locking it, as the action would) and returns
	// how pages name it and the values an approval compares: what it looks
	// like to the requester and, later, to the approver.
	look func(db *DB, tx *gorm.DB, id string, params map[string]string) (string, map[string]string, error)
	// allowed refuses a request the action could not carry out now.
	allowed func(seen map[string]string, requester Origin, id string) error
	// run is the action's own change, inside the approval's transaction.
	run func(db *DB, tx *gorm.DB, o Origin, r *ApprovalRequest, out *ApprovalOutcome) (Change, error)
}

// Names of the values an approval compares; the 409 names them.
const (
	seenVersion    = "version"
	seenUpdated    = "last change"
	seenState      = "state"
	seenRole       = "role"
	seenStatus     = "status"
	seenMFA        = "two-step sign-in"
	seenPasskeys   = "passkeys"
	seenURL        = "URL"
	seenEvents     = "events"
	seenEnabled    = "enabled"
	seenTimeLayout = time.RFC3339Nano
)

var approvalKinds = map[string]approvalKind{
	ApproveUserRemove: {targetType: "end_user", noun: "The end user", label: "Remove end user", look: lookEndUser,
		allowed: func(seen map[string]string, _ Origin, _ string) error {
			if seen[seenState] == "removed" {
				return &Error{Kind: KindConflict, Message: "This user was already removed."}
			}
			return nil
		},
		run: func(db *DB, tx *gorm.DB, _ Origin, r *ApprovalRequest, _ *ApprovalOutcome) (Change, error) {
			id, _ := strconv.ParseInt(r.TargetID, 10, 64)
			return db.removeEndUser(tx, id, func(*EndUser) error { return nil })
		}},
	ApproveTokenRotate: {targetType: "end_user", noun: "The end user", label: "Rotate the user_token of end user", look: lookEndUser,
		allowed: func(seen map[string]string, _ Origin, _ string) error {
			if seen[seenState] == "removed" {
				return &Error{Kind: KindConflict, Message: "This user was removed: a removed user has no user_token."}
			}
			return nil
		},
		run: func(db *DB, tx *gorm.DB, _ Origin, r *ApprovalRequest, out *ApprovalOutcome) (Change, error) {
			id, _ := strconv.ParseInt(r.TargetID, 10, 64)
			out.UserToken = db.NewUserToken()
			return rotateUserToken(tx, id, out.UserToken)
		}},
	ApproveMakeAdmin: {targetType: "team_member", noun: "The member", label: "Make admin:",
		look: func(_ *DB, tx *gorm.DB, id string, _ map[string]string) (string, map[string]string, error) {
			m, err := lockMemberForTeamChange(tx, id)
			if err != nil {
				return "", nil, err
			}
			return m.EmailAddress, map[string]string{seenRole: string(m.Role), seenStatus: string(m.Status)}, nil
		},
		allowed: func(seen map[string]string, _ Origin, _ string) error {
			if seen[seenRole] == string(RoleAdmin) {
				return &Error{Kind: KindConflict, Message: "This member is already an admin. Nothing was asked."}
			}
			return nil
		},
		run: func(_ *DB, tx *gorm.DB, _ Origin, r *ApprovalRequest, _ *ApprovalOutcome) (Change, error) {
			_, c, err := changeMemberRole(tx, r.TargetID, RoleAdmin)
			return c, err
		}},
	ApproveMFAReset: {targetType: "team_member", noun: "The member", label: "Reset the two-step sign-in of",
		look: func(_ *DB, tx *gorm.DB, id string, _ map[string]string) (string, map[string]string, error) {
			m, err := lockMember(tx, id)
			if err != nil {
				return "", nil, err
			}
			var row MemberMFA
			mfa := "off"
			err = tx.Where("member_id = ? AND confirmed_at IS NOT NULL", m.ID).Take(&row).Error
			if err == nil {
				mfa = "on since " + row.ConfirmedAt.UTC().Format(seenTimeLayout)
			} else if !errors.Is(err, gorm.ErrRecordNotFound) {
				return "", nil, fmt.Errorf("read mfa: %w", err)
			}
			seen := map[string]string{seenStatus: string(m.Status), seenMFA: mfa}
			var passkeys int64
			if err := tx.Model(&Passkey{}).Where("member_id = ?", m.ID).Count(&passkeys).Error; err != nil {
				return "", nil, fmt.Errorf("count passkeys: %w", err)
			}
			if passkeys > 0 {
				seen[seenPasskeys] = strconv.FormatInt(passkeys, 10)
			}
			return m.EmailAddress, seen, nil
		},
		allowed: func(seen map[string]string, requester Origin, id string) error {
			if requester.Actor.ID == id {
				return &Error{Kind: KindForbidden, Message: "You cannot reset your own two-step sign-in here: " +
					"turn it off or make new recovery codes on your account's two-step sign-in page. Nothing was asked."}
			}
			if seen[seenMFA] == "off" && seen[seenPasskeys] == "" {
				return &Error{Kind: KindConflict, Message: "This member does not use two-step sign-in: there is nothing to reset."}
			}
			return nil
		},
		run: func(_ *DB, tx *gorm.DB, o Origin, r *ApprovalRequest, out *ApprovalOutcome) (Change, error) {
			ended, c, err := resetMemberMFA(tx, o, r.TargetID)
			out.SessionsEnded = ended
			return c, err
		}},
	ApproveAPIKeyCreate: {targetType: "api_key", noun: "The key", label: "Create read-write API key",
		look: func(_ *DB, _ *gorm.DB, _ string, p map[string]string) (string, map[string]string, error) {
			return "“" + p["name"] + "”", map[string]string{}, nil
		},
		allowed: func(map[string]string, Origin, string) error { return nil },
		run: func(_ *DB, tx *gorm.DB, o Origin, r *ApprovalRequest, out *ApprovalOutcome) (Change, error) {
			p := r.params()
			created, c, err := createAPIKey(tx, o, NewAPIKey{Name: p["name"], Scope: APIScope(p["scope"])})
			if err != nil {
				return Change{}, err
			}
			out.APIKey = created
			r.TargetID = strconv.FormatInt(created.Key.ID, 10)
			return c, nil
		}},
	ApproveWebhookDelete: {targetType: "webhook_endpoint", noun: "The webhook endpoint", label: "Delete webhook endpoint",
		look: func(_ *DB, tx *gorm.DB, id string, _ map[string]string) (string, map[string]string, error) {
			var e WebhookEndpoint
			if err := lockForUpdate(tx).Where("id = ?", id).Take(&e).Error; err != nil {
				if errors.Is(err, gorm.ErrRecordNotFound) {
					return "", nil, notFound("No webhook endpoint %s.", id)
				}
				return "", nil, fmt.Errorf("load webhook endpoint %s: %w", id, err)
			}
			a := webhookAudit(&e)
			return fmt.Sprint(a["destination"]), map[string]string{seenURL: fmt.Sprint(a["url_sha256"]),
				seenEvents: fmt.Sprint(a["events"]), seenEnabled: strconv.FormatBool(e.Enabled),
				seenUpdated: e.UpdatedAt.UTC().Format(seenTimeLayout)}, nil
		},
		allowed: func(map[string]string, Origin, string) error { return nil },
		run: func(_ *DB, tx *gorm.DB, _ Origin, r *ApprovalRequest, _ *ApprovalOutcome) (Change, error) {
			id, _ := strconv.ParseInt(r.TargetID, 10, 64)
			return deleteWebhookEndpoint(tx, id)
		}},
}

// lookEndUser is an end user as a removal or a token rotation sees them.
func lookEndUser(_ *DB, tx *gorm.DB, id string, _ map[string]string) (string, map[string]string, error) {
	n, err := strconv.ParseInt(id, 10, 64)
	if err != nil {
		return "", nil, notFound("No end user %q.", id)
	}
	var u EndUser
	if err := lockForUpdate(tx).Select("id", "client_user_id", "version", "updated_at", "removed_at").
		Where("id = ?", n).Take(&u).Error; err != nil {
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return "", nil, notFound("No end user %d.", n)
		}
		return "", nil, fmt.Errorf("load end user %d: %w", n, err)
	}
	state := "active"
	if u.Removed() {
		state = "removed"
	}
	return u.ClientUserID, map[string]string{seenVersion: strconv.Itoa(u.Version), seenState: state,
		seenUpdated: u.UpdatedAt.UTC().Format(seenTimeLayout)}, nil
}

// ApprovalInput asks for an action to wait for a second admin.
type ApprovalInput struct {
	Action   string
	TargetID string
	Reason   string
	// Key is the key to create, for api_key.create.
	Key NewAPIKey
}

// RequestApproval writes a request for another admin to decide, audited
// as approval.request on the target, while approvals are required. The
// reason is required; the request expires after the expiry the settings
// hold now.
func (db *DB) RequestApproval(ctx context.Context, o Origin, in ApprovalInput) (*ApprovalRequest, error) {
	kind, ok := approvalKinds[in.Action]
	if !ok {
		return nil, &Error{Kind: KindInvalid, Message: "This action does not wait for approval."}
	}
	if o.Actor.Type != ActorMember {
		return nil, &Error{Kind: KindForbidden, Message: "Only a team member can ask for an approval."}
	}
	reason := strings.TrimSpace(in.Reason)
	fields := FieldErrors{}
	if reason == "" {
		fields.Add("reason", "Say why this is needed: the admin who approves it reads it.")
	} else if problem := text.Line(MaxApprovalReason).Problem(reason); problem != "" {
		fields.Add("reason", problem)
	}
	params := map[string]string{}
	if in.Action == ApproveAPIKeyCreate {
		key, err := in.Key.checked()
		var merr *Error
		if errors.As(err, &merr) {
			for f, msg := range merr.Fields {
				fields.Add(f, msg)
			}
		}
		params["name"], params["scope"] = key.Name, string(key.Scope)
	}
	if err := fields.Err(); err != nil {
		return nil, err
	}
	r := &ApprovalRequest{Action: in.Action, State: ApprovalPending, TargetType: kind.targetType, TargetID: in.TargetID,
		Reason: reason, RequestedBy: o.Actor.ID}
	if in.Action == ApproveAPIKeyCreate {
		r.TargetID = ""
	}
	p, _ := json.Marshal(params)
	r.Params = string(p)
	err := db.Apply(ctx, o, func(tx *gorm.DB) (Change, error) {
		s, err := readSettings(tx)
		if err != nil {
			return Change{}, err
		}
		if !s.ApprovalsRequired {
			return Change{}, &Error{Kind: KindConflict, Message: "Approvals are no longer required: reload the page and do it directly."}
		}
		now := db.now()
		label, seen, err := kind.look(db, tx, r.TargetID, params)
		if err != nil {
			return Change{}, err
		}
		if err := kind.allowed(seen, o, r.TargetID); err != nil {
			return Change{}, err
		}
		closed, err := closeExpired(tx, r, now)
		if err != nil {
			return Change{}, err
		}
		if r.TargetID != "" {
			var open ApprovalRequest
			err := tx.Where("action = ? AND target_type = ? AND target_id = ? AND state = ?",
				r.Action, r.TargetType, r.TargetID, ApprovalPending).Limit(1).Find(&open).Error
			if err != nil {
				return Change{}, fmt.Errorf("find open approval requests: %w", err)
			}
			if open.ID != 0 {
				return Change{}, errAlreadyRequested(open.ID)
			}
		}
		b, _ := json.Marshal(seen)
		r.ID, r.TargetLabel, r.Seen, r.RequestedAt, r.ExpiresAt = 0, label, string(b), now, now.Add(s.ApprovalExpiry)
		if err := tx.Create(r).Error; err != nil {
			if isUniqueViolation(err) {
				return Change{}, errAlreadyRequested(0)
			}
			return Change{}, fmt.Errorf("write approval request: %w", err)
		}
		after := map[string]any{"approval_request": r.ID, "requested_action": r.Action,
			"expires_at": r.ExpiresAt.Format(time.RFC3339)}
		if in.Action == ApproveAPIKeyCreate {
			after["key_name"], after["scope"] = params["name"], params["scope"]
		}
		if len(closed) > 0 {
			after["expired_requests"] = closed
		}
		return Change{Action: ActionApprovalRequest, Target: r.Target(), After: after, Reason: reason}, nil
	})
	if err != nil {
		return nil, err
	}
	return r, nil
}

func errAlreadyRequested(id int64) error {
	msg := "The same action on this record is already waiting for approval."
	if id != 0 {
		msg = fmt.Sprintf("The same action on this record is already waiting for approval (request %d).", id)
	}
	return &Error{Kind: KindConflict, Message: msg}
}

// closeExpired marks the expired requests for r's action and target as
// expired, so that a new one may wait in their place; it returns their ids.
func closeExpired(tx *gorm.DB, r *ApprovalRequest, now time.Time) ([]int64, error) {
	if r.TargetID == "" {
		return nil, nil
	}
	var ids []int64
	q := tx.Model(&ApprovalRequest{}).Where("action = ? AND target_type = ? AND target_id = ? AND state = ? AND expires_at <= ?",
		r.Action, r.TargetType, r.TargetID, ApprovalPending, now)
	if err := q.Pluck("id", &ids).Error; err != nil {
		return nil, fmt.Errorf("find expired approval requests: %w", err)
	}
	if len(ids) == 0 {
		return nil, nil
	}
	if err := tx.Model(&ApprovalRequest{}).Where("id IN ? AND state = ?", ids, ApprovalPending).
		Update("state", ApprovalExpired).Error; err != nil {
		return nil, fmt.Errorf("close expired approval requests: %w", err)
	}
	return ids, nil
}

// ApprovalOutcome is what an approval did, with what it shows once: a
// rotated user_token or a new key's secret goes to the admin who approved,
// who carried the action out.
type ApprovalOutcome struct {
	Request       *ApprovalRequest
	UserToken     string
	APIKey        *CreatedAPIKey
	SessionsEnded int64
}

// errApprovalFailed marks an approval refused because its action can no
// longer be carried out as asked: the request is closed as failed.
var errApprovalFailed = errors.New("approval failed")

// ApproveRequest carries out a pending request as another admin, in the
// transaction that records the approval: the approval.approve entry, then
// the action's own entry (with the request's id), commit together or not
// at all. Of two admins approving at once, exactly one carries it out; the
// other gets a conflict. The requester cannot approve their own request.
// A target changed since the request is a conflict naming what changed,
// and closes the request as failed.
func (db *DB) ApproveRequest(ctx context.Context, o Origin, id int64, comment string) (*ApprovalOutcome, error) {
	comment, err := decisionComment(comment, false)
	if err != nil {
		return nil, err
	}
	out := &ApprovalOutcome{}
	err = db.Apply(ctx, o, func(tx *gorm.DB) (Change, error) {
		r, err := db.openRequest(tx, o, id, "approve")
		if err != nil {
			return Change{}, err
		}
		kind := approvalKinds[r.Action]
		now := db.now()
		if err := decide(tx, r, ApprovalApproved, o, comment, now); err != nil {
			return Change{}, err
		}
		_, seen, err := kind.look(db, tx, r.TargetID, r.params())
		if err != nil {
			return Change{}, failed(r, err)
		}
		if err := unchanged(r, seen); err != nil {
			return Change{}, err
		}
		change, err := kind.run(db, tx, o, r, out)
		if err != nil {
			return Change{}, failed(r, err)
		}
		if r.Action == ApproveAPIKeyCreate {
			if err := tx.Model(&ApprovalRequest{}).Where("id = ?", r.ID).Update("target_id", r.TargetID).Error; err != nil {
				return Change{}, fmt.Errorf("link approval request %d to its key: %w", r.ID, err)
			}
		}
		// The decision first, then what it carried out: both name the
		// request and the target.
		approval := Change{Action: ActionApprovalApprove, Target: change.Target, Reason: comment, After: map[string]any{
			"approval_request": r.ID, "requested_action": r.Action, "requested_by": r.RequestedBy, "state": ApprovalApproved}}
		if _, err := appendAudit(tx, o, approval); err != nil {
			return Change{}, err
		}
		if change.After == nil {
			change.After = map[string]any{}
		}
		change.After["approval_request"] = r.ID
		out.Request = r
		return change, nil
	})
	if errors.Is(err, errApprovalFailed) {
		if ferr := db.failRequest(ctx, o, id, err); ferr != nil {
			return nil, ferr
		}
	}
	if err != nil {
		return nil, err
	}
	return out, nil
}

// DenyRequest closes a pending request without carrying it out, audited
// as approval.deny on the target with the denier's comment (required).
func (db *DB) DenyRequest(ctx context.Context, o Origin, id int64, comment string) (*ApprovalRequest, error) {
	comment, err := decisionComment(comment, true)
	if err != nil {
		return nil, err
	}
	var out *ApprovalRequest
	err = db.Apply(ctx, o, func(tx *gorm.DB) (Change, error) {
		r, err := db.openRequest(tx, o, id, "deny")
		if err != nil {
			return Change{}, err
		}
		if err := decide(tx, r, ApprovalDenied, o, comment, db.now()); err != nil {
			return Change{}, err
		}
		out = r
		return Change{Action: ActionApprovalDeny, Target: r.Target(), Reason: comment, After: map[string]any{
			"approval_request": r.ID, "requested_action": r.Action, "requested_by": r.RequestedBy, "state": ApprovalDenied}}, nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// decisionComment checks a decision's comment; a denial needs one.
func decisionComment(comment string, required bool) (string, error) {
	comment = strings.TrimSpace(comment)
	if comment == "" && required {
		return "", FieldErrors{"comment": "Say why you deny it: the requester reads it."}.Err()
	}
	if problem := text.Line(MaxApprovalReason).Problem(comment); comment != "" && problem != "" {
		return "", FieldErrors{"comment": problem}.Err()
	}
	return comment, nil
}

// openRequest locks a request that o may decide now: pending, not
// expired, asked by someone else, and o an active admin.
func (db *DB) openRequest(tx *gorm.DB, o Origin, id int64, verb string) (*ApprovalRequest, error) {
	if o.Actor.Type != ActorMember {
		return nil, &Error{Kind: KindForbidden, Message: "Only an admin can decide an approval request."}
	}
	var n int64
	if err := tx.Model(&TeamMember{}).Where("id = ? AND status = ? AND role = ?", o.Actor.ID, MemberActive, RoleAdmin).
		Count(&n).Error; err != nil {
		return nil, fmt.Errorf("check approver: %w", err)
	}
	if n != 1 {
		return nil, &Error{Kind: KindForbidden, Message: "Only an active admin can decide an approval request."}
	}
	var r ApprovalRequest
	if err := lockForUpdate(tx).Where("id = ?", id).Take(&r).Error; err != nil {
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return nil, notFound("No approval request %d.", id)
		}
		return nil, fmt.Errorf("load approval request %d: %w", id, err)
	}
	if r.RequestedBy == o.Actor.ID {
		return nil, &Error{Kind: KindForbidden, Message: fmt.Sprintf(
			"You asked for this yourself: another admin must %s it. Nothing was changed.", verb)}
	}
	now := db.now()
	switch r.StateAt(now) {
	case ApprovalPending:
		return &r, nil
	case ApprovalExpired:
		return nil, &Error{Kind: KindConflict, Message: fmt.Sprintf(
			"This request expired at %s UTC without a decision. Nothing was changed; ask again if it is still needed.",
			r.ExpiresAt.UTC().Format("2006-01-02 15:04"))}
	}
	return nil, &Error{Kind: KindConflict, Message: fmt.Sprintf("This request was already %s. Nothing was changed.", r.State)}
}

// decide moves a request from pending to state, only if it is still
// pending: of two decisions at once, exactly one moves it.
func decide(tx *gorm.DB, r *ApprovalRequest, state string, o Origin, comment string, now time.Time) error {
	res := tx.Model(&ApprovalRequest{}).Where("id = ? AND state = ?", r.ID, ApprovalPending).
		Updates(map[string]any{"state": state, "decided_by": o.Actor.ID, "decided_at": now, "comment": comment})
	if res.Error != nil {
		return fmt.Errorf("decide approval request %d: %w", r.ID, res.Error)
	}
	if res.RowsAffected != 1 {
		return &Error{Kind: KindConflict, Message: "Another admin decided this request first. Nothing was changed."}
	}
	r.State, r.DecidedBy, r.DecidedAt, r.Comment = state, o.Actor.ID, &now, comment
	return nil
}

// unchanged compares the target with what the requester saw, and names
// what changed.
func unchanged(r *ApprovalRequest, now map[string]string) error {
	then := r.seen()
	var diffs []string
	for k, v := range then {
		if now[k] != v {
			diffs = append(diffs, fmt.Sprintf("%s was %s, is now %s", k, v, now[k]))
		}
	}
	if len(diffs) == 0 {
		return nil
	}
	sort.Strings(diffs)
	return failed(r, &Error{Kind: KindConflict, Message: fmt.Sprintf(
		"%s changed since the request: %s.", approvalKinds[r.Action].noun, strings.Join(diffs, "; "))})
}

// failed turns what stops an approved action into a conflict that closes
// the request as failed; an error that is not the target's (a failed
// query, an approver who may not) leaves it pending.
func failed(r *ApprovalRequest, err error) error {
	var merr *Error
	if !errors.As(err, &merr) || (merr.Kind != KindConflict && merr.Kind != KindNotFound) {
		return err
	}
	return &Error{Kind: KindConflict, Err: errApprovalFailed, Message: "The request cannot be carried out: " +
		merr.Message + " Nothing was changed; ask again if it is still needed."}
}

// failRequest closes a request whose approval failed, audited as
// approval.fail with why.
func (db *DB) failRequest(ctx context.Context, o Origin, id int64, cause error) error {
	var merr *Error
	errors.As(cause, &merr)
	why := merr.Message
	err := db.Apply(ctx, o, func(tx *gorm.DB) (Change, error) {
		var r ApprovalRequest
		if err := lockForUpdate(tx).Where("id = ?", id).Take(&r).Error; err != nil {
			return Change{}, fmt.Errorf("load approval request %d: %w", id, err)
		}
		if err := decide(tx, &r, ApprovalFailed, o, why, db.now()); err != nil {
			return Change{}, err
		}
		return Change{Action: ActionApprovalFail, Target: r.Target(), After: map[string]any{
			"approval_request": r.ID, "requested_action": r.Action, "state": ApprovalFailed, "problem": why}}, nil
	})
	if ErrorKind(err) == KindConflict {
		return nil // decided meanwhile: the approval's own error says enough
	}
	return err
}

// ApprovalByID returns one request.
func (db *DB) ApprovalByID(ctx context.Context, id int64) (*ApprovalRequest, error) {
	var r ApprovalRequest
	if err := db.gorm.WithContext(ctx).Where("id = ?", id).Take(&r).Error; err != nil {
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return nil, notFound("No approval request %d.", id)
		}
		return nil, fmt.Errorf("approval request %d: %w", id, err)
	}
	return &r, nil
}

// maxPendingListed bounds the pending list: requests expire, so it stays
// short, and past this many the oldest wait for the newest to go.
const maxPendingListed = 200

// PendingApprovals lists the requests waiting for a decision, newest
// first.
func (db *DB) PendingApprovals(ctx context.Context) ([]ApprovalRequest, error) {
	var out []ApprovalRequest
	err := db.gorm.WithContext(ctx).Where("state = ? AND expires_at > ?", ApprovalPending, db.now()).
		Order("requested_at DESC, id DESC").Limit(maxPendingListed).Find(&out).Error
	if err != nil {
		return nil, fmt.Errorf("list pending approvals: %w", err)
	}
	return out, nil
}

// RecentDecisions lists the newest requests no longer waiting: decided,
// failed or expired; the audit log keeps them all.
func (db *DB) RecentDecisions(ctx context.Context, limit int) ([]ApprovalRequest, error) {
	var out []ApprovalRequest
	err := db.gorm.WithContext(ctx).Where("state <> ? OR expires_at <= ?", ApprovalPending, db.now()).
		Order("id DESC").Limit(limit).Find(&out).Error
	if err != nil {
		return nil, fmt.Errorf("list decided approvals: %w", err)
	}
	return out, nil
}

// decidableBy is the condition on approval_requests of the requests a
// member may decide, given the time and then the member's id: pending,
// not expired, asked by someone else. LoadSession counts them for the
// navigation, with the member's id as a column.
const decidableBy = "state = '" + ApprovalPending + "' AND expires_at > ? AND requested_by <> "

// ApprovalsFor lists the newest requests about a record, for its page.
func (db *DB) ApprovalsFor(ctx context.Context, t Target, limit int) ([]ApprovalRequest, error) {
	var out []ApprovalRequest
	err := db.gorm.WithContext(ctx).Where("target_type = ? AND target_id = ?", t.Type, t.ID).
		Order("id DESC").Limit(limit).Find(&out).Error
	if err != nil {
		return nil, fmt.Errorf("approvals of %s %s: %w", t.Type, t.ID, err)
	}
	return out, nil
}

// ApprovalsRequired reports whether the portal's actions that need a
// second admin wait for one now.
func (db *DB) ApprovalsRequired(ctx context.Context) (bool, error) {
	s, err := db.Settings(ctx)
	return s.ApprovalsRequired, err
}

// ApprovalNow is the time requests expire against: the database's clock.
func (db *DB) ApprovalNow() time.Time { return db.now() }
