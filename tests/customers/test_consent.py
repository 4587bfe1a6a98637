"""Consent and legal basis per purpose: an opt-out of personalised marketing (PIPL Art. 24)
holds the customer's SMS at send time, whatever path queued it."""

from factories import make_consent, make_customer, make_sms_message, set_service_window
from keycare.core.models import AuditEvent
from keycare.customers.actions import record_consent
from keycare.customers.consent import opted_out_of_marketing
from keycare.customers.models import ConsentRecord
from keycare.messaging.rules import SendRules


def test_recording_a_choice_is_audited_and_replaces_the_previous_one(org, manager):
    customer = make_customer(org["C025"], "S1", manager)
    record_consent(None, customer, "marketing", basis="consent", opted_out=False)
    record_consent(None, customer, "marketing", basis="consent", opted_out=True, source="10086")
    assert ConsentRecord.objects.get().opted_out and opted_out_of_marketing() == {customer.pk}
    assert AuditEvent.objects.filter(action="privacy.consent").count() == 2


def test_an_opted_out_customer_gets_no_sms(org, manager):
    out = make_customer(org["C025"], "S1", manager)
    make_consent(out)
    free = make_customer(org["C025"], "S2", manager, msisdn="13900000002")
    make_consent(free, opted_out=False)
    messages = [make_sms_message(out, 1), make_sms_message(free, 2)]
    set_service_window("00:00", "00:00")
    rules = SendRules()
    contacted = rules.contacted(messages)
    holds = [rules.check(m, contacted) for m in messages]
    assert holds[0].code == "opted_out" and holds[1] is None
