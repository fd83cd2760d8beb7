package handlers

import (
	"errors"
	"net/http/httptest"
	"testing"

	"github.com/gofiber/fiber/v2"

	"ledgerdesk/models"
)

func TestExportGate_RefusesPastItsPlacesUntilOneIsGivenBack(t *testing.T) {
	var g exportGate
	var releases []func()
	app := fiber.New()
	app.Get("/", func(c *fiber.Ctx) error {
		release, err := g.enter(c, exportsBusy)
		var merr *models.Error
		if errors.As(err, &merr) && merr.Kind == models.KindBusy {
			return c.SendStatus(fiber.StatusTooManyRequests)
		}
		if err != nil {
			return err
		}
		releases = append(releases, release)
		return c.SendStatus(fiber.StatusOK)
	})
	get := func() (int, string) {
		resp, err := app.Test(httptest.NewRequest("GET", "/", nil))
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, resp.Header.Get(fiber.HeaderRetryAfter)
	}
	for i := 0; i < maxExports; i++ {
		if code, _ := get(); code != fiber.StatusOK {
			t.Fatalf("export %d refused with %d", i+1, code)
		}
	}
	if code, retry := get(); code != fiber.StatusTooManyRequests || retry == "" {
		t.Fatalf("export %d answered %d (Retry-After %q), want 429 with Retry-After", maxExports+1, code, retry)
	}
	releases[0]()
	releases[0]() // a second release gives back nothing more
	if code, _ := get(); code != fiber.StatusOK {
		t.Fatalf("after one finished, a new export answered %d", code)
	}
	if code, _ := get(); code != fiber.StatusTooManyRequests {
		t.Fatalf("a double release freed two places: %d", code)
	}
}
