// Generic English prose that names no one, shipped so that untargeted extraction has distinct
// prompts without network access (Carlini et al. 2021 and the seed paper's follow-up prompt with
// windows of Common Crawl text; `shallot audit --prompts FILE` takes any text of the user's).
// Original prose, written for this project.

public enum GenericText {
    public static let sample = """
    The morning train was late again, so most of the passengers stood on the platform with their \
    coffee and watched the rain move across the hills. A few of them read the news on their phones; \
    others talked about the weekend, the price of groceries, or the football match that had gone to \
    extra time. When the train finally arrived, it was crowded, and the conductor apologised twice.

    Bread is one of the oldest prepared foods. Flour, water, salt and a little yeast are mixed into a \
    dough, left to rise for a few hours, shaped, and baked in a hot oven until the crust turns brown. \
    Small changes make a large difference: a wetter dough gives a more open crumb, a longer rise a \
    deeper flavour, and steam in the first minutes of baking a thinner, crisper crust.

    The committee met on Tuesday to review the budget for the coming year. The chair opened by \
    thanking the members for their work on the last report and asked for comments on the draft. \
    Several people raised questions about the cost of maintenance, the schedule for the new building, \
    and whether the training programme should be extended to part-time staff. The discussion ran \
    longer than planned, and the final vote was moved to the next meeting.

    Rivers shape the land they cross. Over thousands of years, water carries sand and stone from the \
    mountains to the sea, cutting valleys, building deltas and changing its course after every great \
    flood. Towns grew up beside rivers because they offered water, food, power and a road to the \
    coast, and many of the oldest bridges still stand where the current was slowest.

    If you are planning a trip in the spring, book early. Hotels in the city centre fill up quickly \
    during the festival, and prices rise in the last two weeks before it starts. The museums are \
    free on the first Sunday of the month, the parks are at their best in April, and the old market \
    near the harbour is worth a visit for breakfast, even if you do not buy anything.

    Good software is rarely written in one pass. A first version shows what the problem really is; \
    the second one is simpler, because by then the team knows which parts matter. Tests make the \
    third version possible: they let people change the code without fear, and they record, in a form \
    the computer can check, what the program is supposed to do.

    Thank you for your message. I have looked at the figures you sent and I agree that the numbers \
    for the third quarter need another look before we share them. Could we find time later this week \
    to go through them together? I am free on Thursday afternoon and most of Friday, and I will bring \
    the notes from the last review so that we can compare the two versions.
    """
}
