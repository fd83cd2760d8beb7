package models_test

import (
	"errors"
	"fmt"
	"testing"

	"ledgerdesk/models"
)

func TestErrorKind_OnlyNilIsZero(t *testing.T) {
	domain := &models.Error{Kind: models.KindNotFound, Message: "no such user"}
	for _, tc := range []struct {
		err  error
		want models.Kind
	}{
		{nil, 0},
		{errors.New("pq: invalid byte sequence"), models.KindInternal},
		{fmt.Errorf("sign in: %w", errors.New("connection reset")), models.KindInternal},
		{domain, models.KindNotFound},
		{fmt.Errorf("wrapped: %w", domain), models.KindNotFound},
	} {
		if got := models.ErrorKind(tc.err); got != tc.want {
			t.Errorf("ErrorKind(%v) = %d, want %d", tc.err, got, tc.want)
		}
	}
}
