// A small text embedded in the binary so that `shallot train --embedded-sample` runs on a fresh
// machine with no data. Original prose, written for this project; the addresses use the
// reserved example.com domain.

enum EmbeddedSample {
    static let text = """
    From: Dana Whitfield <dana.whitfield@example.com>
    To: Operations Team <ops@example.com>
    Subject: Pipeline maintenance on Thursday

    Hi all,

    The north pipeline will be down for scheduled maintenance on Thursday from 6 am to noon.
    Please move any deliveries planned for that window to Friday morning, and let me know by
    Wednesday if that creates a problem for your customers. I will send the revised schedule
    once the crews confirm their start time.

    Thanks,
    Dana Whitfield
    Scheduling Manager
    (713) 555-0142

    From: Marcus Lee <marcus.lee@example.com>
    To: Dana Whitfield <dana.whitfield@example.com>
    Subject: RE: Pipeline maintenance on Thursday

    Dana,

    Friday works for two of our accounts, but the plant in Baytown needs gas on Thursday. Can we
    route their volume through the south line for the morning? I can call the trader desk if
    that helps. Let me know what you think before the end of the day.

    Marcus

    From: Priya Raman <priya.raman@example.com>
    To: Credit Group <credit@example.com>
    Subject: Counterparty review

    Team,

    Attached is the quarterly review of our counterparties. Three accounts moved to the watch
    list: the exposure is small, but the payment history has slipped since the summer. Please
    review the notes before our meeting on Monday and bring any questions you have. We will
    decide then whether to ask for letters of credit.

    Regards,
    Priya Raman
    Senior Credit Analyst
    priya.raman@example.com | (713) 555-0178

    From: Tom Okafor <tom.okafor@example.com>
    To: Priya Raman <priya.raman@example.com>
    Subject: RE: Counterparty review

    Priya, thanks for putting this together. I read the notes on the two utilities and agree
    with the watch list. For the third account I would wait one more month: they changed their
    billing system in August and the late payments started the same week. I will be out on
    Monday morning but can join after lunch.

    Tom

    From: Elena Brooks <elena.brooks@example.com>
    To: All Employees <all@example.com>
    Subject: Office move

    Good afternoon,

    The move to the new building starts next week. Each team will receive boxes and labels on
    Monday. Pack your desk by Thursday evening; the movers will come on Friday and your new desk
    will be ready on Monday morning. Phones and network will work from the first day. If you
    need help, call the facilities desk at (713) 555-0110 or write to facilities@example.com.

    Elena Brooks
    Facilities

    From: Marcus Lee <marcus.lee@example.com>
    To: Trading Desk <desk@example.com>
    Subject: Baytown volumes

    Desk,

    We need to move the Baytown volume to the south line for Thursday morning while the north
    pipeline is down. The customer confirmed they can take gas from either line. Please update
    the nominations and send me the new numbers when they are in.

    Thanks,
    Marcus Lee
    Account Manager
    (713) 555-0199

    From: Dana Whitfield <dana.whitfield@example.com>
    To: Marcus Lee <marcus.lee@example.com>
    Subject: RE: RE: Pipeline maintenance on Thursday

    Marcus, the south line has room for the Baytown volume on Thursday. I updated the schedule
    and copied the desk. Let me know if anything changes on your side.

    Dana
    """
}
