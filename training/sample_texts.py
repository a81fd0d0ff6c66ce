"""Template tables for the summarization and instruction-following sample data (training.sample_data).

Plain data keyed by language code, with the placeholders of training.sample_templates: ``{city}`` (a city of
``API_VALUES["city"]``), ``{p}`` a person (``{p|masculine|feminine}`` picks a form by the person's gender),
``{n}`` a number (``{n|one|other}``, Russian ``{n|one|few|many}``), ``{k}`` = n × 1000. Row k of every language is
the same story or request, translated; numbers are written with ASCII digits everywhere.
"""

from __future__ import annotations

# --------------------------------------------------------------------------------------------------
# Summarization (XLSum-style): a short news article and its one-sentence summary.
# --------------------------------------------------------------------------------------------------
STORIES: list[dict[str, tuple[str, str]]] = [
    {  # a city budget for schools
        "en": ("The city council of {city} approved a budget of {n} million for new schools on Monday. Mayor {p} said "
               "that construction will begin next spring. Parents and teachers welcomed the decision.",
               "{city} approved {n} million for new schools."),
        "es": ("El ayuntamiento de {city} aprobó el lunes un presupuesto de {n} millones para nuevas escuelas. "
               "{p|El alcalde|La alcaldesa} {p} dijo que las obras empezarán la próxima primavera. Padres y maestros "
               "celebraron la decisión.",
               "{city} aprobó {n} millones para nuevas escuelas."),
        "ja": ("{city}の市議会は月曜日、新しい学校のために{n}百万の予算を承認した。{p}市長は、工事は来年の春に始まると"
               "述べた。保護者と教師はこの決定を歓迎した。",
               "{city}が新しい学校のために{n}百万を承認した。"),
        "bn": ("সোমবার {city} শহরের পৌরসভা নতুন স্কুলের জন্য {n} মিলিয়নের বাজেট অনুমোদন করেছে। মেয়র {p} বলেছেন যে "
               "আগামী বসন্তে নির্মাণ কাজ শুরু হবে। অভিভাবক ও শিক্ষকেরা এই সিদ্ধান্তকে স্বাগত জানিয়েছেন।",
               "{city} নতুন স্কুলের জন্য {n} মিলিয়ন অনুমোদন করেছে।"),
        "sw": ("Baraza la jiji la {city} liliidhinisha bajeti ya milioni {n} kwa shule mpya siku ya Jumatatu. Meya {p} "
               "alisema kwamba ujenzi utaanza msimu ujao wa masika. Wazazi na walimu walikaribisha uamuzi huo.",
               "{city} iliidhinisha milioni {n} kwa shule mpya."),
        "te": ("సోమవారం {city} నగర మండలి కొత్త పాఠశాలల కోసం {n} మిలియన్ల బడ్జెట్‌ను ఆమోదించింది. వచ్చే వసంతకాలంలో "
               "నిర్మాణం ప్రారంభమవుతుందని మేయర్ {p} చెప్పారు. తల్లిదండ్రులు, ఉపాధ్యాయులు ఈ నిర్ణయాన్ని స్వాగతించారు.",
               "{city} కొత్త పాఠశాలల కోసం {n} మిలియన్లను ఆమోదించింది."),
        "fr": ("Le conseil municipal de {city} a approuvé lundi un budget de {n} millions pour de nouvelles écoles. "
               "{p|Le maire|La maire} {p} a déclaré que les travaux commenceront au printemps prochain. Les parents et les "
               "enseignants ont salué la décision.",
               "{city} a approuvé {n} millions pour de nouvelles écoles."),
        "de": ("Der Stadtrat von {city} hat am Montag ein Budget von {n} Millionen für neue Schulen beschlossen. "
               "{p|Bürgermeister|Bürgermeisterin} {p} sagte, dass der Bau im nächsten Frühjahr beginnt. Eltern und Lehrer "
               "begrüßten die Entscheidung.",
               "{city} hat {n} Millionen für neue Schulen beschlossen."),
        "ru": ("В понедельник городской совет города {city} утвердил бюджет в {n} {n|миллион|миллиона|миллионов} на новые "
               "школы. Мэр {p} {p|сказал|сказала}, что строительство начнётся следующей весной. Родители и учителя "
               "приветствовали это решение.",
               "Город {city} выделил {n} {n|миллион|миллиона|миллионов} на новые школы."),
        "zh": ("{city}市议会周一批准了{n}百万的新学校预算。市长{p}表示，工程将于明年春天开始。家长和教师对这一决定表示欢迎。",
               "{city}批准了{n}百万用于新学校。"),
        "th": ("เมื่อวันจันทร์ สภาเมือง{city}อนุมัติงบประมาณ {n} ล้านสำหรับโรงเรียนใหม่ นายกเทศมนตรี{p}กล่าวว่าการก่อสร้าง"
               "จะเริ่มในฤดูใบไม้ผลิหน้า ผู้ปกครองและครูต่างยินดีกับการตัดสินใจนี้",
               "{city}อนุมัติงบ {n} ล้านสำหรับโรงเรียนใหม่"),
    },
    {  # a marathon
        "en": ("More than {k} runners took part in the marathon in {city} on Sunday. The race was won by {p}, who "
               "finished in just over two hours. The organisers thanked the volunteers for their help.",
               "{p} won the marathon in {city}, which had more than {k} runners."),
        "es": ("Más de {k} corredores participaron el domingo en el maratón de {city}. La carrera la ganó {p}, que "
               "terminó en poco más de dos horas. Los organizadores agradecieron la ayuda de los voluntarios.",
               "{p} ganó el maratón de {city}, con más de {k} corredores."),
        "ja": ("日曜日、{city}のマラソンに{k}人以上のランナーが参加した。優勝したのは{p}で、2時間を少し超えるタイムで"
               "ゴールした。主催者はボランティアの協力に感謝した。",
               "{k}人以上が参加した{city}のマラソンで{p}が優勝した。"),
        "bn": ("রবিবার {city} শহরের ম্যারাথনে {k} জনের বেশি দৌড়বিদ অংশ নিয়েছিলেন। দৌড়ে জিতেছেন {p}, যিনি দুই ঘণ্টার "
               "একটু বেশি সময়ে শেষ করেন। আয়োজকেরা স্বেচ্ছাসেবকদের সাহায্যের জন্য ধন্যবাদ জানিয়েছেন।",
               "{k} জনের বেশি দৌড়বিদের {city} ম্যারাথনে {p} জিতেছেন।"),
        "sw": ("Zaidi ya wakimbiaji {k} walishiriki katika mbio za marathoni mjini {city} siku ya Jumapili. Mbio "
               "zilishindwa na {p}, aliyemaliza kwa zaidi kidogo ya saa mbili. Waandaaji waliwashukuru wanaojitolea "
               "kwa msaada wao.",
               "{p} alishinda marathoni ya {city} yenye wakimbiaji zaidi ya {k}."),
        "te": ("ఆదివారం {city} నగరంలో జరిగిన మారథాన్‌లో {k} మందికి పైగా పరుగుదారులు పాల్గొన్నారు. రెండు గంటలకు కొంచెం "
               "ఎక్కువ సమయంలో ముగించిన {p} ఈ పరుగులో గెలిచారు. నిర్వాహకులు స్వచ్ఛంద సేవకుల సహాయానికి ధన్యవాదాలు తెలిపారు.",
               "{k} మందికి పైగా పాల్గొన్న {city} మారథాన్‌లో {p} గెలిచారు."),
        "fr": ("Plus de {k} coureurs ont participé dimanche au marathon de {city}. La course a été remportée par {p}, "
               "qui a terminé en un peu plus de deux heures. Les organisateurs ont remercié les bénévoles pour leur aide.",
               "{p} a remporté le marathon de {city}, qui comptait plus de {k} coureurs."),
        "de": ("Mehr als {k} Läufer nahmen am Sonntag am Marathon in {city} teil. Das Rennen gewann {p}, "
               "{p|der|die} nach knapp über zwei Stunden ins Ziel kam. Die Veranstalter dankten den Freiwilligen für "
               "ihre Hilfe.",
               "{p} hat den Marathon in {city} mit mehr als {k} Läufern gewonnen."),
        "ru": ("В воскресенье в марафоне в городе {city} приняли участие более {k} бегунов. Забег {p|выиграл|выиграла} "
               "{p}, {p|который финишировал|которая финишировала} чуть больше чем за два часа. Организаторы "
               "поблагодарили волонтёров за помощь.",
               "{p} {p|выиграл|выиграла} марафон в городе {city}, в котором участвовали более {k} бегунов."),
        "zh": ("周日，超过{k}名选手参加了{city}马拉松。{p}以略多于两小时的成绩赢得了比赛。组织者感谢志愿者的帮助。",
               "{p}赢得了有超过{k}名选手参加的{city}马拉松。"),
        "th": ("เมื่อวันอาทิตย์ นักวิ่งกว่า {k} คนเข้าร่วมการวิ่งมาราธอนที่{city} ผู้ชนะคือ{p} ซึ่งเข้าเส้นชัยในเวลาสองชั่วโมง"
               "เศษ ผู้จัดงานขอบคุณอาสาสมัครที่ให้ความช่วยเหลือ",
               "{p}ชนะการวิ่งมาราธอนที่{city} ซึ่งมีนักวิ่งกว่า {k} คน"),
    },
    {  # days of heavy rain
        "en": ("Heavy rain fell on {city} for {n} days in a row. Several roads were closed and schools stayed shut. "
               "The weather service expects the sun to return at the weekend.",
               "{n} days of heavy rain closed roads and schools in {city}."),
        "es": ("Fuertes lluvias cayeron sobre {city} durante {n} días seguidos. Varias carreteras se cerraron y las "
               "escuelas permanecieron cerradas. El servicio meteorológico espera que el sol vuelva el fin de semana.",
               "{n} días de fuertes lluvias cerraron carreteras y escuelas en {city}."),
        "ja": ("{city}では{n}日連続で大雨が降った。いくつかの道路が閉鎖され、学校も休校となった。気象庁は週末には晴れると"
               "予想している。",
               "{city}で{n}日間の大雨により道路と学校が閉鎖された。"),
        "bn": ("টানা {n} দিন ধরে {city} শহরে ভারী বৃষ্টি হয়েছে। কয়েকটি রাস্তা বন্ধ করা হয়েছে এবং স্কুলগুলো বন্ধ ছিল। "
               "আবহাওয়া দপ্তর আশা করছে সপ্তাহান্তে আবার রোদ উঠবে।",
               "{n} দিনের ভারী বৃষ্টিতে {city} শহরে রাস্তা ও স্কুল বন্ধ হয়েছে।"),
        "sw": ("Mvua kubwa ilinyesha mjini {city} kwa siku {n} mfululizo. Barabara kadhaa zilifungwa na shule "
               "zilibaki zimefungwa. Idara ya hali ya hewa inatarajia jua kurudi mwishoni mwa wiki.",
               "Siku {n} za mvua kubwa zilifunga barabara na shule mjini {city}."),
        "te": ("{city} నగరంలో వరుసగా {n} రోజులు భారీ వర్షం కురిసింది. అనేక రహదారులను మూసివేశారు, పాఠశాలలు మూతపడ్డాయి. "
               "వారాంతంలో మళ్ళీ ఎండ వస్తుందని వాతావరణ శాఖ భావిస్తోంది.",
               "{n} రోజుల భారీ వర్షం వల్ల {city} నగరంలో రహదారులు, పాఠశాలలు మూతపడ్డాయి."),
        "fr": ("De fortes pluies se sont abattues sur {city} pendant {n} jours d'affilée. Plusieurs routes ont été "
               "fermées et les écoles sont restées closes. Le service météorologique prévoit le retour du soleil ce "
               "week-end.",
               "{n} jours de fortes pluies ont fermé des routes et des écoles à {city}."),
        "de": ("In {city} regnete es {n} Tage lang ununterbrochen stark. Mehrere Straßen wurden gesperrt und die "
               "Schulen blieben geschlossen. Der Wetterdienst erwartet, dass am Wochenende die Sonne zurückkehrt.",
               "{n} Tage Starkregen haben in {city} Straßen und Schulen geschlossen."),
        "ru": ("В городе {city} {n} {n|день|дня|дней} подряд шли сильные дожди. Несколько дорог перекрыли, а школы "
               "были закрыты. Метеослужба ожидает, что к выходным вернётся солнце.",
               "{n} {n|день|дня|дней} сильных дождей закрыли дороги и школы в городе {city}."),
        "zh": ("{city}连续{n}天下大雨。多条道路被封闭，学校也停课了。气象部门预计周末将恢复晴天。",
               "{city}连续{n}天大雨，道路和学校被关闭。"),
        "th": ("ฝนตกหนักที่{city}ติดต่อกัน {n} วัน ถนนหลายสายถูกปิดและโรงเรียนต้องหยุดเรียน กรมอุตุนิยมวิทยาคาดว่า"
               "แดดจะกลับมาในช่วงสุดสัปดาห์",
               "ฝนตกหนัก {n} วันทำให้ถนนและโรงเรียนใน{city}ถูกปิด"),
    },
    {  # a new library
        "en": ("A new library opened in {city} this week with more than {k} books. Its director, {p}, hopes that "
               "children will visit it every day. Entry is free for everyone.",
               "A free library with more than {k} books opened in {city}."),
        "es": ("Esta semana abrió en {city} una nueva biblioteca con más de {k} libros. Su {p|director|directora}, "
               "{p}, espera que los niños la visiten todos los días. La entrada es gratuita para todos.",
               "Abrió en {city} una biblioteca gratuita con más de {k} libros."),
        "ja": ("今週、{city}に{k}冊以上の本をそろえた新しい図書館が開館した。館長の{p}は、子どもたちが毎日訪れることを"
               "願っている。入館は誰でも無料だ。",
               "{city}に{k}冊以上の本がある無料の図書館が開館した。"),
        "bn": ("এই সপ্তাহে {city} শহরে {k}টিরও বেশি বই নিয়ে একটি নতুন গ্রন্থাগার খুলেছে। এর পরিচালক {p} আশা করেন যে "
               "শিশুরা প্রতিদিন এখানে আসবে। সবার জন্য প্রবেশ বিনামূল্যে।",
               "{city} শহরে {k}টিরও বেশি বইয়ের একটি বিনামূল্যের গ্রন্থাগার খুলেছে।"),
        "sw": ("Maktaba mpya yenye vitabu zaidi ya {k} ilifunguliwa mjini {city} wiki hii. Mkurugenzi wake, {p}, "
               "anatumaini kwamba watoto wataitembelea kila siku. Kuingia ni bure kwa kila mtu.",
               "Maktaba ya bure yenye vitabu zaidi ya {k} ilifunguliwa mjini {city}."),
        "te": ("ఈ వారం {city} నగరంలో {k}కు పైగా పుస్తకాలతో కొత్త గ్రంథాలయం ప్రారంభమైంది. పిల్లలు ప్రతిరోజూ దీనిని "
               "సందర్శిస్తారని దాని డైరెక్టర్ {p} ఆశిస్తున్నారు. అందరికీ ప్రవేశం ఉచితం.",
               "{city} నగరంలో {k}కు పైగా పుస్తకాలతో ఉచిత గ్రంథాలయం ప్రారంభమైంది."),
        "fr": ("Une nouvelle bibliothèque de plus de {k} livres a ouvert cette semaine à {city}. Sa "
               "{p|directeur|directrice}, {p}, espère que les enfants la fréquenteront tous les jours. L'entrée est "
               "gratuite pour tous.",
               "Une bibliothèque gratuite de plus de {k} livres a ouvert à {city}."),
        "de": ("In {city} hat diese Woche eine neue Bibliothek mit mehr als {k} Büchern eröffnet. "
               "{p|Ihr Leiter|Ihre Leiterin} {p} hofft, dass Kinder sie jeden Tag besuchen. Der Eintritt ist für alle "
               "frei.",
               "In {city} hat eine kostenlose Bibliothek mit mehr als {k} Büchern eröffnet."),
        "ru": ("На этой неделе в городе {city} открылась новая библиотека, в которой более {k} книг. Её "
               "{p|директор|директор} {p} надеется, что дети будут приходить туда каждый день. Вход для всех бесплатный.",
               "В городе {city} открылась бесплатная библиотека, в которой более {k} книг."),
        "zh": ("本周，{city}一座藏书超过{k}册的新图书馆开馆。馆长{p}希望孩子们每天都来。所有人都可以免费入馆。",
               "{city}开放了一座藏书超过{k}册的免费图书馆。"),
        "th": ("สัปดาห์นี้ห้องสมุดแห่งใหม่ที่มีหนังสือกว่า {k} เล่มเปิดให้บริการที่{city} ผู้อำนวยการ{p}หวังว่าเด็ก ๆ "
               "จะมาเยี่ยมชมทุกวัน ทุกคนเข้าชมได้ฟรี",
               "ห้องสมุดฟรีที่มีหนังสือกว่า {k} เล่มเปิดที่{city}"),
    },
]

# --------------------------------------------------------------------------------------------------
# Instruction following (Aya-Dolly-style prompt and response) with verifiable instructions (evaluation.instructions).
# ``{items}`` in a response is the bulleted list of the first n entries of FRUITS in the row's language.
# --------------------------------------------------------------------------------------------------
FRUITS: dict[str, list[str]] = {
    "en": ["apple", "banana", "orange", "mango", "grape", "pear", "lemon"],
    "es": ["manzana", "plátano", "naranja", "mango", "uva", "pera", "limón"],
    "ja": ["りんご", "バナナ", "オレンジ", "マンゴー", "ぶどう", "なし", "レモン"],
    "bn": ["আপেল", "কলা", "কমলা", "আম", "আঙুর", "নাশপাতি", "লেবু"],
    "sw": ["tufaha", "ndizi", "chungwa", "embe", "zabibu", "pea", "limau"],
    "te": ["ఆపిల్", "అరటి", "నారింజ", "మామిడి", "ద్రాక్ష", "బేరి", "నిమ్మ"],
    "fr": ["pomme", "banane", "orange", "mangue", "raisin", "poire", "citron"],
    "de": ["Apfel", "Banane", "Orange", "Mango", "Traube", "Birne", "Zitrone"],
    "ru": ["яблоко", "банан", "апельсин", "манго", "виноград", "груша", "лимон"],
    "zh": ["苹果", "香蕉", "橙子", "芒果", "葡萄", "梨", "柠檬"],
    "th": ["แอปเปิล", "กล้วย", "ส้ม", "มะม่วง", "องุ่น", "สาลี่", "มะนาว"],
}

# Each request: per language its prompt and reference response (and, for ``forbidden``, the word), and the
# instructions a response must meet (kinds of evaluation.instructions; placeholders are filled per row; an ``n``
# given per language uses "*" for the others). Every reference response meets its instructions (a test checks).
REQUESTS: list[dict] = [
    {
        "instructions": [{"kind": "bullets", "n": "{n}"}, {"kind": "language"}],
        "n": (3, 5),
        "en": ("List {n} fruits as a bulleted list, in English.", "Here are {n} fruits:\n{items}"),
        "es": ("Enumera {n} frutas en una lista con viñetas, en español.", "Aquí tienes {n} frutas:\n{items}"),
        "ja": ("果物を{n}つ、箇条書きで日本語で挙げてください。", "果物を{n}つ挙げます。\n{items}"),
        "bn": ("বাংলায় বুলেট তালিকা আকারে {n}টি ফলের নাম লিখুন।", "এখানে {n}টি ফলের নাম দেওয়া হলো:\n{items}"),
        "sw": ("Taja matunda {n} kwa orodha ya vitone, kwa Kiswahili.", "Haya ni matunda {n}:\n{items}"),
        "te": ("తెలుగులో బుల్లెట్ జాబితాగా {n} పండ్ల పేర్లు రాయండి.", "ఇక్కడ {n} పండ్ల పేర్లు ఉన్నాయి:\n{items}"),
        "fr": ("Citez {n} fruits sous forme de liste à puces, en français.", "Voici {n} fruits :\n{items}"),
        "de": ("Nenne {n} Obstsorten als Aufzählung, auf Deutsch.", "Hier sind {n} Obstsorten:\n{items}"),
        "ru": ("Перечислите {n} {n|фрукт|фрукта|фруктов} в виде маркированного списка, на русском языке.", "Вот {n} {n|фрукт|фрукта|фруктов}:\n{items}"),
        "zh": ("请用中文以项目符号列表列出{n}种水果。", "以下是{n}种水果：\n{items}"),
        "th": ("ระบุชื่อผลไม้ {n} ชนิดเป็นรายการหัวข้อย่อยเป็นภาษาไทย", "นี่คือผลไม้ {n} ชนิด:\n{items}"),
    },
    {
        # Japanese, Chinese and Thai count characters (evaluation.text.words), so their limit is in characters.
        "instructions": [{"kind": "keywords", "words": ["{city}"]},
                         {"kind": "max_words", "n": {"ja": 40, "zh": 40, "th": 60, "*": 15}}, {"kind": "language"}],
        "en": ("Write one sentence about {city} that mentions the city by name. Use at most 15 words.",
               "{city} is a large city with many parks, museums and markets."),
        "es": ("Escribe una frase sobre {city} que mencione la ciudad por su nombre. Usa como máximo 15 palabras.",
               "{city} es una ciudad grande con muchos parques, museos y mercados."),
        "ja": ("{city}について、都市名を含む文を一文書いてください。40字以内で書いてください。",
               "{city}は公園が多い大都市だ。"),
        "bn": ("{city} সম্পর্কে শহরের নাম উল্লেখ করে একটি বাক্য লিখুন। সর্বোচ্চ 15টি শব্দ ব্যবহার করুন।",
               "{city} অনেক পার্ক, জাদুঘর ও বাজারসহ একটি বড় শহর।"),
        "sw": ("Andika sentensi moja kuhusu {city} inayotaja jina la mji. Tumia maneno 15 au chini.",
               "{city} ni mji mkubwa wenye bustani, makumbusho na masoko mengi."),
        "te": ("{city} గురించి నగరం పేరు ప్రస్తావిస్తూ ఒక వాక్యం రాయండి. గరిష్టంగా 15 పదాలు వాడండి.",
               "{city} అనేక పార్కులు, మ్యూజియంలు, మార్కెట్లు ఉన్న పెద్ద నగరం."),
        "fr": ("Écrivez une phrase sur {city} qui cite la ville par son nom. Utilisez 15 mots au maximum.",
               "{city} est une grande ville avec de nombreux parcs, musées et marchés."),
        "de": ("Schreibe einen Satz über {city}, der die Stadt beim Namen nennt. Verwende höchstens 15 Wörter.",
               "{city} ist eine große Stadt mit vielen Parks, Museen und Märkten."),
        "ru": ("Напишите одно предложение о городе {city}, в котором он назван по имени. Используйте не более 15 слов.",
               "{city} — большой город с множеством парков, музеев и рынков."),
        "zh": ("写一句关于{city}的话，并提到这座城市的名字。不超过40个字。",
               "{city}是一座大城市。"),
        "th": ("เขียนหนึ่งประโยคเกี่ยวกับ{city}โดยระบุชื่อเมือง ใช้ไม่เกิน 60 ตัวอักษร",
               "{city}เป็นเมืองใหญ่"),
    },
    {
        "instructions": [{"kind": "json"}],
        "en": ('{p} is {n} years old. Reply only with JSON that has the key "age".', '{"age": {n}}'),
        "es": ('{p} tiene {n} años. Responde solo con un JSON que tenga la clave "age".', '{"age": {n}}'),
        "ja": ('{p}は{n}歳です。キー "age" を持つJSONだけで答えてください。', '{"age": {n}}'),
        "bn": ('{p}-এর বয়স {n} বছর। শুধু "age" কী-সহ একটি JSON দিয়ে উত্তর দিন।', '{"age": {n}}'),
        "sw": ('{p} ana umri wa miaka {n}. Jibu kwa JSON pekee yenye ufunguo "age".', '{"age": {n}}'),
        "te": ('{p} వయస్సు {n} సంవత్సరాలు. "age" కీ ఉన్న JSON తో మాత్రమే సమాధానం ఇవ్వండి.', '{"age": {n}}'),
        "fr": ('{p} a {n} ans. Répondez uniquement avec un JSON ayant la clé "age".', '{"age": {n}}'),
        "de": ('{p} ist {n} Jahre alt. Antworte nur mit JSON, das den Schlüssel "age" hat.', '{"age": {n}}'),
        "ru": ('{p_dat} {n} {n|год|года|лет}. Ответьте только JSON с ключом "age".', '{"age": {n}}'),
        "zh": ('{p}今年{n}岁。请只用包含键 "age" 的 JSON 回答。', '{"age": {n}}'),
        "th": ('{p}อายุ {n} ปี ตอบเป็น JSON ที่มีคีย์ "age" เท่านั้น', '{"age": {n}}'),
    },
    {
        "instructions": [{"kind": "forbidden", "words": ["{word}"]}, {"kind": "language"}],
        "en": ('Describe a sunny day in {city} in one sentence, without the word "{word}".', "In {city} the sky is clear and warm, and people walk in the parks.", "rain"),
        "es": ('Describe un día soleado en {city} en una frase, sin la palabra "{word}".', "En {city} el cielo está despejado y hace calor, y la gente pasea por los parques.", "lluvia"),
        "ja": ('{city}の晴れた日を、「{word}」という言葉を使わずに一文で描写してください。', "{city}の空は晴れて暖かい。", "雨"),
        "bn": ('"{word}" শব্দটি ব্যবহার না করে {city} শহরের একটি রোদেলা দিন এক বাক্যে বর্ণনা করুন।', "{city} শহরের আকাশ পরিষ্কার ও উষ্ণ, আর মানুষ পার্কে হাঁটছে।", "বৃষ্টি"),
        "sw": ('Eleza siku yenye jua mjini {city} kwa sentensi moja, bila neno "{word}".', "Mjini {city} anga ni safi na joto, na watu wanatembea bustanini.", "mvua"),
        "te": ('"{word}" అనే పదం వాడకుండా {city} నగరంలో ఎండ రోజును ఒక వాక్యంలో వర్ణించండి.', "{city} నగరంలో ఆకాశం నిర్మలంగా, వెచ్చగా ఉంది, ప్రజలు పార్కుల్లో నడుస్తున్నారు.", "వర్షం"),
        "fr": ('Décrivez une journée ensoleillée à {city} en une phrase, sans le mot « {word} ».', "À {city}, le ciel est dégagé et doux, et les gens se promènent dans les parcs.", "pluie"),
        "de": ('Beschreibe einen sonnigen Tag in {city} in einem Satz, ohne das Wort „{word}“.', "In {city} ist der Himmel klar und warm, und die Menschen spazieren durch die Parks.", "Regen"),
        "ru": ('Опишите солнечный день в городе {city} одним предложением, не используя слово «{word}».', "В городе {city} небо ясное и тёплое, и люди гуляют в парках.", "дождь"),
        "zh": ('不用“{word}”这个字，用一句话描写{city}晴朗的一天。', "{city}的天空晴朗温暖。", "雨"),
        "th": ('บรรยายวันที่แดดจ้าใน{city}ในหนึ่งประโยค โดยไม่ใช้คำว่า "{word}"', "ท้องฟ้าที่{city}แจ่มใสและอบอุ่น", "ฝน"),
    },
]
